// Special functions behind the p-values: the chi-square survival function
// (regularised upper incomplete gamma) and the survival function of the
// one-sample Kolmogorov–Smirnov statistic (SciPy's `kstwo.sf`). Written out
// here because the operator has no numeric library and these are small.

const LANCZOS = [
  676.5203681218851, -1259.1392167224028, 771.3234287776531, -176.6150291621406, 12.507343278686905,
  -0.13857109526572012, 9.984369578019572e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7; relative error ~1e-15). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let sum = 0.99999999999980993;
  for (let i = 0; i < LANCZOS.length; i++) sum += (LANCZOS[i] as number) / (z + i + 1);
  const t = z + LANCZOS.length - 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

const GAMMA_EPS = 1e-15;
const GAMMA_MAX_ITER = 10_000;

/** Regularised upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (!Number.isFinite(x)) return 0;
  return x < a + 1 ? 1 - gammaPSeries(a, x) : gammaQContinuedFraction(a, x);
}

function gammaPSeries(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < GAMMA_MAX_ITER; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * GAMMA_EPS) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
}

// Modified Lentz evaluation of the continued fraction for Q.
function gammaQContinuedFraction(a: number, x: number): number {
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < GAMMA_MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < GAMMA_EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/** P(X >= x) for X ~ chi-square with `df` degrees of freedom. */
export function chiSquareSurvival(x: number, df: number): number {
  if (df <= 0) return 1;
  return clamp01(gammaQ(df / 2, x / 2));
}

/**
 * P(D_n >= d) for the one-sample Kolmogorov–Smirnov statistic with n
 * observations (SciPy's `kstwo.sf(d, n)`). Exact (Marsaglia, Tsang & Wang
 * 2003) for small samples; beyond that the Kolmogorov limit at Vrbik's
 * (2018) corrected argument √n·d + 1/(6√n) + (√n·d − 1)/(4n).
 */
export function ksSurvival(d: number, n: number): number {
  if (n < 1 || d <= 0) return 1;
  if (d >= 1) return 0;
  const s = n * d * d;
  if (s >= 18.5) return 0; // below 1e-16: Simard & L'Ecuyer's cut-off
  const k = Math.floor(n * d) + 1;
  if (n <= EXACT_MAX_N && k <= EXACT_MAX_K) return clamp01(1 - ksCdfExact(d, n));
  const x = Math.sqrt(n) * d;
  return clamp01(kolmogorovSurvival(x + 1 / (6 * Math.sqrt(n)) + (x - 1) / (4 * n)));
}

// The exact matrix method costs (2·n·d)³·log n; past these bounds Vrbik's
// correction is within 2e-4 of SciPy at n = 100 and 1e-5 from n = 2000.
const EXACT_MAX_N = 140;
const EXACT_MAX_K = 30;

/** Q(λ) = P(K > λ) of the Kolmogorov distribution. */
export function kolmogorovSurvival(lambda: number): number {
  if (lambda <= 0) return 1;
  if (lambda < 1.18) {
    // Jacobi form converges fast for small λ; it gives the CDF.
    const w = (Math.PI * Math.PI) / (8 * lambda * lambda);
    let sum = 0;
    for (let j = 1; j <= 9; j += 2) sum += Math.exp(-j * j * w);
    return 1 - (Math.sqrt(2 * Math.PI) / lambda) * sum;
  }
  let sum = 0;
  for (let j = 1; j <= 100; j++) {
    const term = Math.exp(-2 * j * j * lambda * lambda);
    sum += (j % 2 === 1 ? 1 : -1) * term;
    if (term < 1e-17) break;
  }
  return 2 * sum;
}

// Marsaglia, Tsang & Wang: P(D_n < d) = n!/n^n · (H^n)[k-1][k-1].
function ksCdfExact(d: number, n: number): number {
  const k = Math.floor(n * d) + 1;
  const m = 2 * k - 1;
  const h = k - n * d;
  const H = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) H[i * m + j] = i - j + 1 < 0 ? 0 : 1;
  for (let i = 0; i < m; i++) {
    H[i * m] = (H[i * m] as number) - h ** (i + 1);
    H[(m - 1) * m + i] = (H[(m - 1) * m + i] as number) - h ** (m - i);
  }
  H[(m - 1) * m] = (H[(m - 1) * m] as number) + (2 * h - 1 > 0 ? (2 * h - 1) ** m : 0);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      if (i - j + 1 <= 0) continue;
      let factorial = 1;
      for (let g = 2; g <= i - j + 1; g++) factorial *= g;
      H[i * m + j] = (H[i * m + j] as number) / factorial;
    }
  }
  const power = matrixPower(H, m, n);
  let s = power.matrix[(k - 1) * m + k - 1] as number;
  let exponent = power.exponent;
  for (let i = 1; i <= n; i++) {
    s = (s * i) / n;
    if (s < 1e-140) {
      s *= 1e140;
      exponent -= 140;
    }
  }
  return s * 10 ** exponent;
}

type ScaledMatrix = { matrix: Float64Array; exponent: number };

function matrixPower(A: Float64Array, m: number, n: number): ScaledMatrix {
  if (n === 1) return { matrix: A, exponent: 0 };
  const half = matrixPower(A, m, Math.floor(n / 2));
  const squared = multiply(half.matrix, half.matrix, m);
  let result: ScaledMatrix =
    n % 2 === 0
      ? { matrix: squared, exponent: 2 * half.exponent }
      : { matrix: multiply(A, squared, m), exponent: 2 * half.exponent };
  const centre = Math.floor(m / 2) * m + Math.floor(m / 2);
  if ((result.matrix[centre] as number) > 1e140) {
    const scaled = result.matrix.map((v) => v * 1e-140);
    result = { matrix: scaled, exponent: result.exponent + 140 };
  }
  return result;
}

function multiply(A: Float64Array, B: Float64Array, m: number): Float64Array {
  const C = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < m; k++) {
      const a = A[i * m + k] as number;
      if (a === 0) continue;
      for (let j = 0; j < m; j++) C[i * m + j] = (C[i * m + j] as number) + a * (B[k * m + j] as number);
    }
  }
  return C;
}

export function clamp01(x: number): number {
  if (Number.isNaN(x)) return 1;
  return x < 0 ? 0 : x > 1 ? 1 : x;
}
