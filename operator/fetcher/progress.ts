// Progress lines for a download: at most one every `everyMs` (a few seconds)
// or every 10 % of a known total, whichever comes first, so a log shows a
// stalled download without drowning in lines.

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

export function progressReporter(
  log: (line: string) => void,
  label: string,
  opts: { everyMs?: number; now?: () => number } = {},
): (bytes: number, total: number | undefined) => void {
  const everyMs = opts.everyMs ?? 5000;
  const now = opts.now ?? Date.now;
  let lastAt = now();
  let lastTenth = 0;
  return (bytes, total) => {
    const t = now();
    const tenth = total ? Math.floor((bytes / total) * 10) : 0;
    if (t - lastAt < everyMs && tenth <= lastTenth) return;
    if (total && bytes >= total && tenth <= lastTenth) return;
    lastAt = t;
    lastTenth = tenth;
    const of = total ? ` of ${formatBytes(total)} (${Math.floor((bytes / total) * 100)}%)` : "";
    log(`${label}: ${formatBytes(bytes)}${of}`);
  };
}
