// Reads features and predictions out of inference payloads, as columns named
// by the ModelVersion's signature. Pure: the proxy hands it bodies it has
// already forwarded, so a body that does not parse is only counted.
//
// Column naming, the same for V2 tensors and V1 rows:
// - a V2 tensor named like a signature field, with one value per row, is
//   that field;
// - the columns of every other tensor (or of a V1 row given as an array) go,
//   in order, to the signature fields not yet matched, in signature order
//   (the usual case: one [N, K] tensor "input-0" holding K features);
// - columns beyond the signature keep a positional name (`tensor[i]`), which
//   no reference matches, so they cost nothing but still take part in shadow
//   comparison when there is no signature;
// - V1 rows given as objects are named by their keys.
import type { SignatureField } from "./config.ts";

export type Value = number | string | boolean;
export type Columns = Map<string, Value[]>;
export type Parsed = { ok: true; columns: Columns; rows: number } | { ok: false; reason: string };
export type Protocol = "v1" | "v2";

export interface InferenceRoute {
  protocol: Protocol;
  model: string;
}

const V2_INFER = /^\/v2\/models\/([^/]+)(?:\/versions\/[^/]+)?\/infer$/;
const V1_PREDICT = /^\/v1\/models\/([^/:]+):predict$/;

/** The inference call a request is, or undefined for every other path (health, metadata, ...). */
export function inferenceRoute(
  method: string | undefined,
  url: string | undefined,
): InferenceRoute | undefined {
  if (method !== "POST" || !url) return undefined;
  const q = url.indexOf("?");
  const path = q === -1 ? url : url.slice(0, q);
  const v2 = V2_INFER.exec(path);
  if (v2?.[1]) return { protocol: "v2", model: decodeURIComponent(v2[1]) };
  const v1 = V1_PREDICT.exec(path);
  if (v1?.[1]) return { protocol: "v1", model: decodeURIComponent(v1[1]) };
  return undefined;
}

interface RawColumns {
  name: string;
  /** columns[c][r]: value of column c in row r. */
  columns: Value[][];
}

function isValue(v: unknown): v is Value {
  return typeof v === "number" || typeof v === "string" || typeof v === "boolean";
}

/**
 * Row-major leaves of nested `data`, without recursion: JSON.parse accepts
 * nesting far deeper than the call stack, and a client chooses the depth.
 */
function flatten(data: unknown, out: unknown[]): void {
  const stack: Array<{ items: unknown[]; next: number }> = [];
  if (!Array.isArray(data)) return void out.push(data);
  stack.push({ items: data, next: 0 });
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as { items: unknown[]; next: number };
    if (top.next >= top.items.length) {
      stack.pop();
      continue;
    }
    const item = top.items[top.next++];
    if (Array.isArray(item)) stack.push({ items: item, next: 0 });
    else out.push(item);
  }
}

/** Splits one V2 tensor (row-major, flat or nested `data`) into per-column arrays. */
export function tensorColumns(tensor: unknown): RawColumns | string {
  if (typeof tensor !== "object" || tensor === null) return "tensor is not an object";
  const t = tensor as { name?: unknown; shape?: unknown; data?: unknown };
  if (typeof t.name !== "string") return "tensor has no name";
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    return `tensor ${t.name}: shape is not a list of non-negative integers`;
  }
  const flat: unknown[] = [];
  flatten(t.data, flat);
  if (!flat.every(isValue)) return `tensor ${t.name}: data holds non-scalar values`;
  const shape = t.shape as number[];
  const rows = shape.length === 0 ? 1 : (shape[0] as number);
  const cols = shape.slice(1).reduce((a, b) => a * b, 1);
  // No values: a claimed [0, 1e9] must not allocate a billion empty columns,
  // nor a claimed [1e15, 0] loop over a quadrillion empty rows.
  if ((rows === 0 || cols === 0) && flat.length === 0) return { name: t.name, columns: [] };
  if (rows * cols !== flat.length) {
    return `tensor ${t.name}: shape [${shape.join(",")}] needs ${rows * cols} values, data has ${flat.length}`;
  }
  const columns: Value[][] = Array.from({ length: cols }, () => new Array<Value>(rows));
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) (columns[c] as Value[])[r] = flat[r * cols + c] as Value;
  }
  return { name: t.name, columns };
}

/** Names columns by the signature (see the header comment). */
export function nameColumns(raw: RawColumns[], fields: SignatureField[]): Columns {
  const out: Columns = new Map();
  const names = new Set(fields.map((f) => f.name));
  const positional: RawColumns[] = [];
  for (const r of raw) {
    if (names.has(r.name) && r.columns.length === 1 && !out.has(r.name))
      out.set(r.name, r.columns[0] as Value[]);
    else positional.push(r);
  }
  const free = fields.filter((f) => !out.has(f.name)).map((f) => f.name);
  let next = 0;
  for (const r of positional) {
    r.columns.forEach((col, i) => {
      const name = free[next++] ?? (r.columns.length === 1 ? r.name : `${r.name}[${i}]`);
      if (!out.has(name)) out.set(name, col);
    });
  }
  return out;
}

function rowCount(columns: Columns): number {
  let rows = 0;
  for (const col of columns.values()) rows = Math.max(rows, col.length);
  return rows;
}

function parseJson(body: Buffer | string): { ok: true; value: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, value: JSON.parse(typeof body === "string" ? body : body.toString("utf8")) };
  } catch {
    return { ok: false, reason: "body is not JSON" };
  }
}

function parseV2(value: unknown, key: "inputs" | "outputs", fields: SignatureField[]): Parsed {
  const tensors = (value as Record<string, unknown> | null)?.[key];
  if (!Array.isArray(tensors)) return { ok: false, reason: `no "${key}" list` };
  const raw: RawColumns[] = [];
  for (const t of tensors) {
    const cols = tensorColumns(t);
    if (typeof cols === "string") return { ok: false, reason: cols };
    raw.push(cols);
  }
  const columns = nameColumns(raw, fields);
  return { ok: true, columns, rows: rowCount(columns) };
}

/** V1 rows: scalars (one column), arrays (positional columns) or objects (named columns). */
export function rowsToColumns(rows: unknown[], fields: SignatureField[], label: string): Parsed {
  const byKey: Columns = new Map();
  const positional: Value[][] = [];
  for (const [r, row] of rows.entries()) {
    if (isValue(row)) {
      positional[0] ??= [];
      (positional[0] as Value[])[r] = row;
    } else if (Array.isArray(row)) {
      if (!row.every(isValue)) return { ok: false, reason: `${label} row ${r} holds non-scalar values` };
      row.forEach((v, c) => {
        positional[c] ??= [];
        (positional[c] as Value[])[r] = v;
      });
    } else if (typeof row === "object" && row !== null) {
      for (const [k, v] of Object.entries(row)) {
        if (!isValue(v)) continue;
        if (!byKey.has(k)) byKey.set(k, []);
        byKey.get(k)?.push(v);
      }
    } else {
      return { ok: false, reason: `${label} row ${r} is null` };
    }
  }
  const dense = positional.map((col) => col.filter((v) => v !== undefined));
  const named = nameColumns([{ name: label, columns: dense }], fields);
  for (const [k, v] of byKey) if (!named.has(k)) named.set(k, v);
  return { ok: true, columns: named, rows: rows.length };
}

function parseV1(value: unknown, key: "instances" | "predictions", fields: SignatureField[]): Parsed {
  const obj = value as Record<string, unknown> | null;
  const rows = obj?.[key] ?? (key === "instances" ? obj?.inputs : obj?.outputs);
  if (!Array.isArray(rows)) return { ok: false, reason: `no "${key}" list` };
  return rowsToColumns(rows, fields, key);
}

/** Features of an inference request, named by the signature's inputs. */
export function parseRequest(protocol: Protocol, body: Buffer | string, inputs: SignatureField[]): Parsed {
  const json = parseJson(body);
  if (!json.ok) return json;
  return protocol === "v2" ? parseV2(json.value, "inputs", inputs) : parseV1(json.value, "instances", inputs);
}

/** Predictions of an inference response, named by the signature's outputs. */
export function parseResponse(protocol: Protocol, body: Buffer | string, outputs: SignatureField[]): Parsed {
  const json = parseJson(body);
  if (!json.ok) return json;
  return protocol === "v2"
    ? parseV2(json.value, "outputs", outputs)
    : parseV1(json.value, "predictions", outputs);
}
