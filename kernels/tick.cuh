// One agent-register cell's tick, written once for the CUDA kernel (tick.cu) and for the host
// (tests compile this header with g++ and compare it with the numpy reference on the CPU).
//
// The formulas are uqo.engine.tick / uqo.engine.pairmath (the reference): staleness channels on
// each site, correlated failure, cell entropy (closed-form quartic, float64), ZZ coupling,
// reward rotations (float64 angles), trace hygiene, then the diagnostics of the result. The state
// math runs in float32 like the complex64 reference, the spectra in float64. Cells with no
// queued reward skip the rotation (exactly the identity there) and provably separable cells skip
// the concurrence eigenproblem (purity <= 1/3, or det of the partial transpose > 0).
#pragma once

#ifdef __CUDACC__
#define UQO_HD __host__ __device__ __forceinline__
#else
#include <cmath>
#define UQO_HD inline
#endif

namespace uqo {

#ifndef __CUDACC__
using std::acos; using std::cos; using std::fabs; using std::log; using std::sqrt; using std::sin;
#endif

template <typename T> struct cx { T re, im; };
struct c64 { float re, im; };   // the layout of numpy complex64

template <typename T> UQO_HD cx<T> operator+(cx<T> a, cx<T> b) { return {a.re + b.re, a.im + b.im}; }
template <typename T> UQO_HD cx<T> operator-(cx<T> a, cx<T> b) { return {a.re - b.re, a.im - b.im}; }
template <typename T> UQO_HD cx<T> operator*(cx<T> a, cx<T> b) {
  return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}
template <typename T> UQO_HD cx<T> operator*(T k, cx<T> a) { return {k * a.re, k * a.im}; }
template <typename T> UQO_HD cx<T> conj(cx<T> a) { return {a.re, -a.im}; }
template <typename T> UQO_HD T abs2(cx<T> a) { return a.re * a.re + a.im * a.im; }

UQO_HD int bit(int i, int site) { return site == 0 ? (i >> 1) & 1 : i & 1; }
UQO_HD int with_bit(int i, int site, int v) { return site == 0 ? (v << 1) | (i & 1) : (i & 2) | v; }
UQO_HD double xlogx(double x) { return x <= 0.0 ? 0.0 : x * log(x > 1e-300 ? x : 1e-300); }
UQO_HD double clampd(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }
UQO_HD double maxd(double a, double b) { return a > b ? a : b; }

// Depolarise (p), dephase (q), amplitude-damp (g) one site of the 4x4 state m.
UQO_HD void site_channel(cx<float> m[4][4], int site, float p, float q, float g) {
  cx<float> t[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      if (bit(i, site) == bit(j, site)) {
        cx<float> tr = m[with_bit(i, site, 0)][with_bit(j, site, 0)]
                     + m[with_bit(i, site, 1)][with_bit(j, site, 1)];
        t[i][j] = (1.0f - p) * m[i][j] + (p / 2.0f) * tr;
      } else {
        t[i][j] = ((1.0f - p) * (1.0f - 2.0f * q)) * m[i][j];
      }
    }
  float sg = sqrtf(1.0f - g);
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      int k = bit(i, site) + bit(j, site);
      if (k == 0) m[i][j] = t[i][j] + g * t[with_bit(i, site, 1)][with_bit(j, site, 1)];
      else if (k == 1) m[i][j] = sg * t[i][j];
      else m[i][j] = (sg * sg) * t[i][j];
    }
}

// Roots of z^3 + a2 z^2 + a1 z + a0 (three real roots), Viete's trigonometric form.
UQO_HD void cubic_roots(double a2, double a1, double a0, double z[3]) {
  double p = a1 - a2 * a2 / 3.0;
  double q = 2.0 * a2 * a2 * a2 / 27.0 - a2 * a1 / 3.0 + a0;
  double m = sqrt(maxd(-p / 3.0, 0.0));
  double m3 = m * m * m;
  double arg = m3 > 1e-150 ? -q / (2.0 * m3) : 0.0;
  double phi = acos(clampd(arg, -1.0, 1.0)) / 3.0;
  double c = cos(phi), s = sqrt(maxd(1.0 - c * c, 0.0)) * 0.86602540378443864676;
  double shift = a2 / 3.0;
  z[0] = 2.0 * m * c - shift;
  z[1] = 2.0 * m * (-c / 2.0 + s) - shift;
  z[2] = 2.0 * m * (-c / 2.0 - s) - shift;
}

// The resolvent's two smaller roots again from the largest, by Vieta, when it is well apart:
// Viete's form gets a close pair near 0 only to ~sqrt(eps) (cellspectra.deflate_small_roots).
UQO_HD void deflate_small_roots(double a2, double a0, double z[3]) {
  if (!(z[0] > 1e-300 && z[1] < 0.5 * z[0])) return;
  double s = maxd(-a2 - z[0], 0.0), prod = maxd(-a0 / z[0], 0.0);
  double big = (s + sqrt(maxd(s * s - 4.0 * prod, 0.0))) / 2.0;
  z[1] = big;
  z[2] = big > 1e-300 ? prod / big : 0.0;
}

// Eigenvalues of a 4x4 with real spectrum from its trace and traceless power sums (Ferrari).
UQO_HD void quartic_roots(double t, double q2, double q3, double q4, double lam[4]) {
  double P = -q2 / 2.0, Q = -q3 / 3.0, R = (q2 * q2 / 2.0 - q4) / 4.0;
  double z[3];
  cubic_roots(2.0 * P, P * P - 4.0 * R, -Q * Q, z);
  deflate_small_roots(2.0 * P, -Q * Q, z);
  double s1 = sqrt(maxd(z[0], 0.0)), s2 = sqrt(maxd(z[1], 0.0)), s3 = sqrt(maxd(z[2], 0.0));
  if (Q > 0) s3 = -s3;
  double c = t / 4.0;
  lam[0] = (s1 + s2 + s3) / 2.0 + c;
  lam[1] = (s1 - s2 - s3) / 2.0 + c;
  lam[2] = (-s1 + s2 - s3) / 2.0 + c;
  lam[3] = (-s1 - s2 + s3) / 2.0 + c;
}

// (t, q2, q3, q4) of m with B = m - t I/4; `hermitian` forms only the upper triangle of B^2.
UQO_HD void power_sums(const cx<double> m[4][4], bool hermitian, double out[4]) {
  cx<double> b[4][4], b2[4][4];
  double t = m[0][0].re + m[1][1].re + m[2][2].re + m[3][3].re;
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) b[i][j] = m[i][j];
#pragma unroll
  for (int i = 0; i < 4; ++i) b[i][i].re -= t / 4.0;
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      if (hermitian && j < i) continue;
      cx<double> acc = {0.0, 0.0};
#pragma unroll
      for (int k = 0; k < 4; ++k) acc = acc + b[i][k] * b[k][j];
      b2[i][j] = acc;
    }
  double q2 = 0, q3 = 0, q4 = 0;
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      if (hermitian && j < i) continue;
      if (i == j) q2 += b2[i][i].re;
      if (hermitian) {   // sum over j < i mirrors j > i: twice the upper triangle
        double w = i == j ? 1.0 : 2.0;
        q3 += w * (b2[i][j] * b[j][i]).re;
        q4 += w * abs2(b2[i][j]);
      } else {
        q3 += (b2[i][j] * b[j][i]).re;
        q4 += (b2[i][j] * b2[j][i]).re;
      }
    }
  out[0] = t; out[1] = q2; out[2] = q3; out[3] = q4;
}

UQO_HD double pair_entropy(const cx<double> m[4][4]) {
  double ps[4], lam[4];
  power_sums(m, true, ps);
  quartic_roots(ps[0], ps[1], ps[2], ps[3], lam);
  return -(xlogx(lam[0]) + xlogx(lam[1]) + xlogx(lam[2]) + xlogx(lam[3]));
}

UQO_HD double qubit_entropy(double r00, double r11, cx<double> r01) {
  double half = sqrt((r00 - r11) * (r00 - r11) + 4.0 * abs2(r01)) / 2.0, mid = (r00 + r11) / 2.0;
  return -(xlogx(mid - half) + xlogx(mid + half));
}

UQO_HD cx<double> minor2(const cx<double> a[4][4], int r0, int r1, int c0, int c1) {
  return a[r0][c0] * a[r1][c1] - a[r0][c1] * a[r1][c0];
}

// True when the state is certainly separable: det of the partial transpose > 0 (two qubits:
// at most one negative eigenvalue; Augusiak, Demianowicz, Horodecki 2008).
UQO_HD bool separable(const cx<double> m[4][4]) {
  cx<double> a[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) a[i][j] = m[(i & 2) | (j & 1)][(j & 2) | (i & 1)];
  cx<double> det = minor2(a, 0, 1, 0, 1) * minor2(a, 2, 3, 2, 3) - minor2(a, 0, 1, 0, 2) * minor2(a, 2, 3, 1, 3)
                 + minor2(a, 0, 1, 0, 3) * minor2(a, 2, 3, 1, 2) + minor2(a, 0, 1, 1, 2) * minor2(a, 2, 3, 0, 3)
                 - minor2(a, 0, 1, 1, 3) * minor2(a, 2, 3, 0, 2) + minor2(a, 0, 1, 2, 3) * minor2(a, 2, 3, 0, 1);
  return det.re > 1e-12;
}

// Wootters concurrence; purity <= 1/3 means separable (Zyczkowski et al. 1998).
UQO_HD double concurrence(const cx<double> m[4][4], double purity) {
  if (purity < 1.0 / 3.0 - 1e-12 || separable(m)) return 0.0;
  cx<double> prod[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      cx<double> acc = {0.0, 0.0};
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        double sk = (k == 0 || k == 3) ? -1.0 : 1.0, sj = (j == 0 || j == 3) ? -1.0 : 1.0;
        acc = acc + m[i][k] * ((sk * sj) * conj(m[3 - k][3 - j]));
      }
      prod[i][j] = acc;
    }
  double ps[4], mu[4];
  power_sums(prod, false, ps);
  quartic_roots(ps[0], ps[1], ps[2], ps[3], mu);
  double l[4], top = 0.0, sum = 0.0;
#pragma unroll
  for (int k = 0; k < 4; ++k) { l[k] = sqrt(maxd(mu[k], 0.0)); top = maxd(top, l[k]); sum += l[k]; }
  return maxd(2.0 * top - sum, 0.0);
}

// (alpha, beta) of u = [[alpha, beta], [-conj(beta), alpha]] turning the Bloch vector toward
// |1> (reward > 0) or |0> (reward < 0) by min(theta0 |reward|, angle to the target).
UQO_HD void rotation(double r00, double r11, cx<double> r01, double reward, double theta0,
                     float* alpha, cx<float>* beta) {
  double x = 2.0 * r01.re, y = -2.0 * r01.im, z = r00 - r11;
  double tz = reward > 0 ? -1.0 : 1.0;
  double nx = y * tz, ny = -x * tz;
  double norm_perp = sqrt(nx * nx + ny * ny), rlen = sqrt(x * x + y * y + z * z);
  double cos_to = rlen > 0 ? z * tz / rlen : 1.0;
  double gap = acos(clampd(cos_to, -1.0, 1.0));
  if (norm_perp < 1e-12) { nx = 0.0; ny = 1.0; } else { nx /= norm_perp; ny /= norm_perp; }
  double theta = rlen > 1e-12 ? (theta0 * fabs(reward) < gap ? theta0 * fabs(reward) : gap) : 0.0;
  double c = cos(theta / 2.0), s = sin(theta / 2.0);
  *alpha = (float)c;
  *beta = {(float)(-s * ny), (float)(-s * nx)};
}

// m <- (u (x) I) m (u (x) I)^dag (site 0) or with I (x) u (site 1).
UQO_HD void conjugate_site(cx<float> m[4][4], int site, float alpha, cx<float> beta) {
  cx<float> u[2][2] = {{{alpha, 0.0f}, beta}, {{-beta.re, beta.im}, {alpha, 0.0f}}};
  cx<float> t[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
      t[i][j] = u[bit(i, site)][0] * m[with_bit(i, site, 0)][j]
              + u[bit(i, site)][1] * m[with_bit(i, site, 1)][j];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
      m[i][j] = t[i][with_bit(j, site, 0)] * conj(u[bit(j, site)][0])
              + t[i][with_bit(j, site, 1)] * conj(u[bit(j, site)][1]);
}

struct PairIn { float pa, pb, qa, qb, ga, gb, c, ra, rb; };
// Diagnostics in the order of uqo.kernels.numba_tick.PAIR_KEYS.
enum { S_CELL, LEAK, READY_A, READY_B, S_A, S_B, MI, CONC, NPUR, N_PAIR_DIAG };
enum { S1_CELL, S1_LEAK, S1_READY, S1_NPUR, N_SINGLE_DIAG };

// The ZZ coupling's phase exp(-2i J dt), the same for every cell: computed once per launch (the
// kernel takes it as an argument) rather than once per thread.
UQO_HD cx<float> coupling_phase(double coupling_dt) {
  return {(float)cos(2.0 * coupling_dt), (float)(-sin(2.0 * coupling_dt))};
}

// The whole tick of one pair cell: `cell` (16 complex64, row-major) is updated in place; `ph`
// is coupling_phase(J dt).
UQO_HD void pair_cell_ph(c64* cell, double s_before, PairIn in, cx<float> ph, double theta0,
                         double diag[N_PAIR_DIAG]) {
  cx<float> m[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) m[i][j] = {cell[4 * i + j].re, cell[4 * i + j].im};
  site_channel(m, 0, in.pa, in.qa, in.ga);
  site_channel(m, 1, in.pb, in.qb, in.gb);
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) m[i][j] = (1.0f - in.c) * m[i][j];
  m[0][0].re += in.c;
  cx<double> w[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) w[i][j] = {(double)m[i][j].re, (double)m[i][j].im};
  double s = pair_entropy(w);
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      int dz = ((i == 0 || i == 3) ? 1 : -1) - ((j == 0 || j == 3) ? 1 : -1);
      if (dz > 0) m[i][j] = m[i][j] * ph;
      else if (dz < 0) m[i][j] = m[i][j] * conj(ph);
    }
  if (in.ra != 0.0f || in.rb != 0.0f) {
    float al, bl; cx<float> be, bb;
    cx<double> a01 = {(double)(m[0][2].re + m[1][3].re), (double)(m[0][2].im + m[1][3].im)};
    cx<double> b01 = {(double)(m[0][1].re + m[2][3].re), (double)(m[0][1].im + m[2][3].im)};
    rotation(m[0][0].re + m[1][1].re, m[2][2].re + m[3][3].re, a01, in.ra, theta0, &al, &be);
    rotation(m[0][0].re + m[2][2].re, m[1][1].re + m[3][3].re, b01, in.rb, theta0, &bl, &bb);
    conjugate_site(m, 0, al, be);
    conjugate_site(m, 1, bl, bb);
  }
  float tr = m[0][0].re + m[1][1].re + m[2][2].re + m[3][3].re;
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = i; j < 4; ++j) {
      cx<float> v = (0.5f / tr) * (m[i][j] + conj(m[j][i]));
      if (i == j) v.im = 0.0f;
      m[i][j] = v;
      m[j][i] = conj(v);
    }
  double pur = 0.0;
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      cell[4 * i + j] = {m[i][j].re, m[i][j].im};
      w[i][j] = {(double)m[i][j].re, (double)m[i][j].im};
      pur += abs2(w[i][j]);
    }
  double a00 = w[0][0].re + w[1][1].re, a11 = w[2][2].re + w[3][3].re;
  double b00 = w[0][0].re + w[2][2].re, b11 = w[1][1].re + w[3][3].re;
  double sa = qubit_entropy(a00, a11, w[0][2] + w[1][3]);
  double sb = qubit_entropy(b00, b11, w[0][1] + w[2][3]);
  diag[S_CELL] = s; diag[LEAK] = s - s_before; diag[READY_A] = a11; diag[READY_B] = b11;
  diag[S_A] = sa; diag[S_B] = sb; diag[MI] = maxd(sa + sb - s, 0.0);
  diag[CONC] = concurrence(w, pur); diag[NPUR] = (4.0 * pur - 1.0) / 3.0;
}

UQO_HD void pair_cell(c64* cell, double s_before, PairIn in, double coupling_dt, double theta0,
                      double diag[N_PAIR_DIAG]) {
  pair_cell_ph(cell, s_before, in, coupling_phase(coupling_dt), theta0, diag);
}

// The whole tick of one single-agent cell (4 complex64, row-major), in place.
UQO_HD void single_cell(c64* cell, double s_before, float p, float q, float g, float r,
                        double theta0, double diag[N_SINGLE_DIAG]) {
  float a = cell[0].re, d = cell[3].re;
  cx<float> z = {cell[1].re, cell[1].im};
  float a1 = (1.0f - p / 2.0f) * a + (p / 2.0f) * d, d1 = (1.0f - p / 2.0f) * d + (p / 2.0f) * a;
  a = a1 + g * d1; d = (1.0f - g) * d1;
  z = ((1.0f - p) * (1.0f - 2.0f * q) * sqrtf(1.0f - g)) * z;
  double s = qubit_entropy(a, d, {(double)z.re, (double)z.im});
  if (r != 0.0f) {
    float al; cx<float> be;
    rotation(a, d, {(double)z.re, (double)z.im}, r, theta0, &al, &be);
    cx<float> u10 = {-be.re, be.im}, A = {a, 0.0f}, D = {d, 0.0f}, ALc = {al, 0.0f};
    cx<float> t00 = ALc * A + be * conj(z), t01 = ALc * z + be * D;
    cx<float> t10 = u10 * A + ALc * conj(z), t11 = u10 * z + ALc * D;
    cx<float> n00 = t00 * ALc + t01 * conj(be), n01 = t00 * conj(u10) + t01 * ALc;
    cx<float> n11 = t10 * conj(u10) + t11 * ALc;
    a = n00.re; d = n11.re; z = n01;
  }
  float tr = a + d;
  a /= tr; d /= tr; z = (1.0f / tr) * z;
  cell[0] = {a, 0.0f}; cell[1] = {z.re, z.im}; cell[2] = {z.re, -z.im}; cell[3] = {d, 0.0f};
  diag[S1_CELL] = s; diag[S1_LEAK] = s - s_before; diag[S1_READY] = d;
  diag[S1_NPUR] = 2.0 * ((double)a * a + (double)d * d + 2.0 * (double)abs2(z)) - 1.0;
}

// One reliability qubit (4 complex64, row-major), in place: drift toward diag(1 - p*, p*) by
// gamma, trace renormalised; ready = P(reliable), entropy = S(rho). (uqo.engine.reliability)
UQO_HD void reliability_cell(c64* cell, double gamma, double p_star, double* ready,
                             double* entropy) {
  double keep = 1.0 - gamma;
  double a = keep * cell[0].re + gamma * (1.0 - p_star);
  double d = keep * cell[3].re + gamma * p_star;
  cx<double> b = {keep * cell[1].re, keep * cell[1].im};
  double tr = a + d;
  a /= tr; d /= tr; b = (1.0 / tr) * b;
  cell[0] = {(float)a, 0.0f}; cell[1] = {(float)b.re, (float)b.im};
  cell[2] = {(float)b.re, (float)-b.im}; cell[3] = {(float)d, 0.0f};
  *ready = d;
  *entropy = qubit_entropy(a, d, b);
}

// Lueders update of one reliability qubit by the effect diag(e0, e1); false (cell untouched)
// when the outcome had probability ~0, for the caller's reset.
UQO_HD bool reliability_observe(c64* cell, double e0, double e1) {
  double a = cell[0].re, d = cell[3].re, norm = e0 * a + e1 * d;
  if (!(norm > 1e-12)) return false;
  double off = sqrt(e0 * e1) / norm;
  cell[0] = {(float)(e0 * a / norm), 0.0f};
  cell[3] = {(float)(e1 * d / norm), 0.0f};
  cell[1] = {(float)(off * cell[1].re), (float)(off * cell[1].im)};
  cell[2] = {cell[1].re, -cell[1].im};
  return true;
}

}  // namespace uqo
