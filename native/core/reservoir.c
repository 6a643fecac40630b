/*
 * The spikecap reservoir core: SPEC.md in C99. See reservoir.h for the contract.
 *
 * Layout of the workspace (every array starts on a 4-byte boundary):
 *   mul_syn int32[N]  2^(16 - dash_syn[i]), see decay_mul
 *   mul_mem int32[N]  2^(16 - dash_mem[i])
 *   acc    int32[N]   the synaptic current. Between sub-steps acc[i] == isyn[i]; during a
 *                     sub-step the input events are added to it (SPEC step 1), and the neuron
 *                     update (step 2) writes the decayed current back.
 *   rec    int32[2N]  two halves, rec0 = rec[0..N) and rec1 = rec[N..2N): the sums of the
 *                     recurrent weights a neuron receives in this sub-step, not yet shifted (the
 *                     update adds (rec0[i] + rec1[i]) * 2^weight_shift_rec to acc[i] and clears
 *                     both). The scatter loop is then a bare load-add-store, and it walks two
 *                     spiking neurons' rows at once, one into each half, so that neighbouring
 *                     events rarely hit the same address (about 10 % faster).
 *   vmem   int16[N]
 *   trace  int16[N]
 *   spikes uint16[N8] indices of the neurons that spiked in the last sub-step (n_spikes of them)
 *   next   uint16[N8] the list being built for the sub-step being computed
 *   count  uint8[N]   spikes of each neuron in the current input sample
 *   fired  uint8[N8]  spiked[i] of the last sub-step, 0 or 1; N8 = N rounded up to 8, the
 *                     padding stays 0 so the list can be rebuilt 8 neurons at a time
 *   dense  int8[N*N]  only for a small network (dense_fits): the recurrent weights as a matrix,
 *                     row = source, column = target, 0 where there is no synapse
 *
 * With AVX2 (x86-64, chosen at sc_init, r->simd = 1), mul_syn/mul_mem hold instead the int16
 * constants k16 (see sc_init), the update builds the spike list itself (`fired` is unused; get
 * state reads the list), counts are cleared by the trace pass, and with weight_shift_rec = 0
 * rec0 is acc itself (the first half of rec stays 0).
 *
 * Propagation is event-driven: a sub-step costs F per input channel with a non-zero count and
 * F per spike of the previous sub-step (a scatter into acc), plus one pass over the N neurons
 * that GCC can vectorise (no branches, no data-dependent shifts of negative values).
 *
 * A scattered event costs about 1.5 cycles (a dependent load-add-store at a random address).
 * When the network is small (N <= 16 F, N <= SC_DENSE_MAX_NEURONS) and every neuron's sum of
 * |recurrent weight| fits an int16, the AVX2 path instead adds the dense rows of the spiking
 * neurons 16 targets per instruction, in int16 registers, and stores the sums into rec1: the
 * same exact integer sums (no partial sum of a subset of a neuron's inputs can pass the bound),
 * so the same bits, at N / 16 instructions per spike instead of F scattered events.
 */
#include "reservoir.h"

#include <string.h>

/* On x86-64 with GCC or Clang, the neuron update has a hand-written AVX2 version (16-bit lanes,
 * the spike list built from a movemask), picked at sc_init when the CPU has AVX2. Define
 * SC_NO_SIMD to build the portable code only. */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(SC_NO_SIMD)
#define SC_AVX2 1
#include <immintrin.h>
#else
#define SC_AVX2 0
#endif

/* The dense recurrent path's limits: its matrix is N * N bytes (1 MiB at 1024), and a spike
 * costs N / 16 row adds against F scattered events, about even at N = 16 F (measured at
 * N = 1024, F = 64: the dense path 9 % faster; at N = 256 it is 40 % faster). */
#define SC_DENSE_MAX_NEURONS 1024u

/* ---- arithmetic of SPEC.md, "Arithmetic helpers" ------------------------------------------ */

static int32_t sat16(int32_t x) {
  return x < -32768 ? -32768 : (x > 32767 ? 32767 : x);
}

/* floor(x / 2^d) for 0 <= d <= 15, shifting only non-negative values (SPEC.md). -(x + 1) rather
 * than -x - 1 so that x = INT32_MIN does not overflow. Used where d is the same for all neurons. */
static int32_t floor_shift(int32_t x, int32_t d) {
  return x >= 0 ? x >> d : -(-(x + 1) >> d) - 1;
}

/* decay(x, d) of SPEC.md: x - floor(x / 2^d), and one step toward zero if that changed nothing.
 * With floor, "nothing changed" (x != 0) happens exactly when x > 0 and floor(x / 2^d) == 0. */
static int32_t decay(int32_t x, int32_t d) {
  int32_t f = floor_shift(x, d);
  return x - f - (int32_t)((x > 0) & (f == 0));
}

/* The same decay for a per-neuron d, given mul = 2^(16 - d) (sc_init precomputes it): for an
 * int16 x, floor(x / 2^d) = floor(x * 2^(16 - d) / 2^16), and |x * mul| <= 2^31, so the product
 * fits an int32. A shift by a constant instead of a per-lane variable shift is what lets GCC
 * vectorise the neuron update with plain SSE2 (x86-64) or NEON. */
static int32_t decay_mul(int32_t x, int32_t mul) {
  int32_t f = floor_shift(x * mul, 16);
  return x - f - (int32_t)((x > 0) & (f == 0));
}

/* ---- model ---------------------------------------------------------------------------------- */

static size_t round4(size_t n) {
  return (n + 3u) & ~(size_t)3u;
}

static size_t round8(size_t n) {
  return (n + 7u) & ~(size_t)7u;
}

static int scalars_ok(const sc_model *m) {
  if (m == NULL) return 0;
  if (m->neurons < 2u || m->neurons > SC_MAX_NEURONS) return 0;
  if (m->inputs < 1u || m->inputs > SC_MAX_INPUTS) return 0;
  if (m->fanout < 1u || m->fanout > SC_MAX_FANOUT || m->fanout > m->neurons) return 0;
  if (m->substeps < 1u || m->substeps > SC_MAX_SUBSTEPS) return 0;
  if (m->weight_shift_in > SC_MAX_WEIGHT_SHIFT) return 0;
  if (m->weight_shift_rec > SC_MAX_WEIGHT_SHIFT) return 0;
  if (m->trace_dash > SC_MAX_DASH || m->trace_shift > SC_MAX_TRACE_SHIFT) return 0;
  if (m->threshold == NULL || m->bias == NULL) return 0;
  if (m->dash_syn == NULL || m->dash_mem == NULL) return 0;
  if (m->in_target == NULL || m->in_weight == NULL) return 0;
  if (m->rec_target == NULL || m->rec_weight == NULL) return 0;
  return 1;
}

/* Rows of `rows` targets, F each: every target < N and distinct within its row. `stamp` holds
 * N uint16, all below `first_row + 1` on entry; row r stamps its targets with r + 1. */
static int rows_ok(const uint16_t *target, uint32_t rows, uint32_t f, uint32_t n, uint16_t *stamp,
                   uint32_t first_row) {
  uint32_t r, k;
  for (r = 0; r < rows; r++) {
    const uint16_t *row = target + (size_t)r * f;
    uint16_t mark = (uint16_t)(first_row + r + 1u);
    for (k = 0; k < f; k++) {
      uint16_t t = row[k];
      if (t >= n || stamp[t] == mark) return 0;
      stamp[t] = mark;
    }
  }
  return 1;
}

int sc_model_check(const sc_model *model, void *scratch, size_t scratch_bytes) {
  uint32_t n, i;
  uint16_t *stamp;
  if (!scalars_ok(model)) return SC_EINVAL;
  n = model->neurons;
  if (scratch == NULL || scratch_bytes < (size_t)n * 2u || ((size_t)(uintptr_t)scratch & 1u) != 0)
    return SC_EINVAL;
  for (i = 0; i < n; i++) {
    if (model->threshold[i] < 1) return SC_EINVAL;
    if (model->dash_syn[i] > SC_MAX_DASH || model->dash_mem[i] > SC_MAX_DASH) return SC_EINVAL;
  }
  /* Rows are numbered 0 … I+N-1 across both matrices (at most 8448, so a uint16 stamp fits). */
  stamp = (uint16_t *)scratch;
  memset(stamp, 0, (size_t)n * sizeof *stamp);
  if (!rows_ok(model->in_target, model->inputs, model->fanout, n, stamp, 0u)) return SC_EINVAL;
  if (!rows_ok(model->rec_target, n, model->fanout, n, stamp, model->inputs)) return SC_EINVAL;
  return SC_OK;
}

/* Whether the workspace has room for the dense matrix (sc_init still decides whether to use it:
 * it needs AVX2 and the int16 bound on the model's weights). */
static int dense_fits(const sc_model *model) {
  return SC_AVX2 && model->neurons <= SC_DENSE_MAX_NEURONS &&
         model->neurons <= 16u * model->fanout;
}

size_t sc_workspace_bytes(const sc_model *model) {
  size_t n;
  if (model == NULL || model->neurons < 2u || model->neurons > SC_MAX_NEURONS) return 0;
  n = model->neurons;
  return (dense_fits(model) ? n * n : 0u) /* dense */
         + n * 4u            /* mul_syn */
         + n * 4u            /* mul_mem */
         + n * 4u            /* acc */
         + n * 8u            /* rec */
         + round4(n * 2u)    /* vmem */
         + round4(n * 2u)    /* trace */
         + round8(n) * 2u    /* spikes */
         + round8(n) * 2u    /* next */
         + round4(n)         /* count */
         + round8(n);        /* fired */
}

size_t sc_state_bytes(const sc_model *model) {
  return model == NULL ? 0 : (size_t)model->neurons * 7u;
}

/* ---- instance ------------------------------------------------------------------------------- */

/* Fills the N * N matrix (zeroed by the caller) from the rows of rec_target/rec_weight, and
 * returns 1 if every neuron's sum of |weight| over its inputs is at most INT16_MAX, so int16
 * sums of any subset of them are exact; else 0 (the matrix is then unused). `sum` is N int32
 * of scratch. */
static int dense_build(const sc_model *m, int8_t *dense, int32_t *sum) {
  const uint32_t n = m->neurons, f = m->fanout;
  uint32_t i, k;
  memset(sum, 0, (size_t)n * sizeof *sum);
  for (i = 0; i < n; i++) {
    for (k = 0; k < f; k++) {
      const uint32_t t = m->rec_target[(size_t)i * f + k];
      const int32_t w = m->rec_weight[(size_t)i * f + k];
      dense[(size_t)i * n + t] = (int8_t)w;
      sum[t] += w < 0 ? -w : w;
    }
  }
  for (i = 0; i < n; i++) {
    if (sum[i] > INT16_MAX) return 0;
  }
  return 1;
}

int sc_init(sc_reservoir *r, const sc_model *model, void *workspace, size_t workspace_bytes) {
  unsigned char *p;
  size_t n, need, i;
  int rc;
  if (r == NULL || workspace == NULL) return SC_EINVAL;
  if (((size_t)(uintptr_t)workspace & 3u) != 0) return SC_EINVAL;
  if (!scalars_ok(model)) return SC_EINVAL;
  need = sc_workspace_bytes(model);
  if (workspace_bytes < need) return SC_ENOMEM;
  /* The full check (ranges and distinct targets) is what keeps the scatter in bounds, so do it
   * here too; the workspace is the scratch, and is laid out afterwards. */
  rc = sc_model_check(model, workspace, workspace_bytes);
  if (rc != SC_OK) return rc;

  n = model->neurons;
  p = (unsigned char *)workspace;
  r->model = model;
  r->mul_syn = (int32_t *)(void *)p;
  p += n * 4u;
  r->mul_mem = (int32_t *)(void *)p;
  p += n * 4u;
  r->acc = (int32_t *)(void *)p;
  p += n * 4u;
  r->rec = (int32_t *)(void *)p;
  p += n * 8u;
  r->vmem = (int16_t *)(void *)p;
  p += round4(n * 2u);
  r->trace = (int16_t *)(void *)p;
  p += round4(n * 2u);
  r->spikes = (uint16_t *)(void *)p;
  p += round8(n) * 2u;
  r->next_spikes = (uint16_t *)(void *)p;
  p += round8(n) * 2u;
  r->count = (uint8_t *)p;
  p += round4(n);
  r->fired = (uint8_t *)p;
  p += round8(n);
  r->n_spikes = 0;
  memset(workspace, 0, need); /* padding of `fired` and the dense matrix included */
  r->simd = 0;
  r->k16 = (int16_t *)(void *)r->mul_syn;
  r->dense = NULL;
#if SC_AVX2
  r->simd = __builtin_cpu_supports("avx2") ? 1u : 0u;
#endif
  if (r->simd && dense_fits(model) && dense_build(model, (int8_t *)p, r->acc)) {
    r->dense = (int8_t *)p;
  }
  memset(r->acc, 0, n * sizeof *r->acc); /* dense_build's scratch */
  if (r->simd) {
    /* k16 = msyn[N], csyn[N], mmem[N], cmem[N] (the 8N bytes of mul_syn and mul_mem): for an
     * int16 x and d = dash, floor(x / 2^d) = mulhi16(x, m) + (x & c), where m is 2^(16 - d)
     * taken modulo 2^16 as an int16 and c is -1 if d <= 1 (where 2^(16 - d) >= 2^15 does not fit
     * an int16: mulhi16(x, 2^(16-d) - 2^16) = floor(x * 2^-d) - x exactly), else 0. */
    for (i = 0; i < n; i++) {
      uint32_t ds = model->dash_syn[i], dm = model->dash_mem[i];
      uint32_t ms = (1u << (16u - ds)) & 0xFFFFu, mm = (1u << (16u - dm)) & 0xFFFFu;
      r->k16[i] = (int16_t)(ms >= 32768u ? (int32_t)ms - 65536 : (int32_t)ms);
      r->k16[n + i] = (int16_t)(ds <= 1u ? -1 : 0);
      r->k16[2u * n + i] = (int16_t)(mm >= 32768u ? (int32_t)mm - 65536 : (int32_t)mm);
      r->k16[3u * n + i] = (int16_t)(dm <= 1u ? -1 : 0);
    }
  } else {
    for (i = 0; i < n; i++) {
      r->mul_syn[i] = (int32_t)1 << (16u - model->dash_syn[i]);
      r->mul_mem[i] = (int32_t)1 << (16u - model->dash_mem[i]);
    }
  }
  return SC_OK;
}

void sc_reset(sc_reservoir *r) {
  size_t n = r->model->neurons;
  memset(r->acc, 0, n * sizeof *r->acc);
  memset(r->rec, 0, 2u * n * sizeof *r->rec);
  memset(r->vmem, 0, n * sizeof *r->vmem);
  memset(r->trace, 0, n * sizeof *r->trace);
  memset(r->count, 0, n);
  memset(r->fired, 0, round8(n));
  r->n_spikes = 0;
}

/* spikes[] = indices i with fired[i] != 0, ascending. Reads `fired` 8 bytes at a time and skips
 * words with no spike (at a 5 % firing rate, two words in three). Returns the count. The writes
 * are unconditional (spikes[m] = i, m += fired[i]), so spikes[] needs room for N rounded up
 * to 8 entries: a write at position m happens at neuron index >= m. */
static uint32_t collect_spikes(const uint8_t *fired, uint32_t n, uint16_t *spikes) {
  uint32_t base, m = 0;
  for (base = 0; base < n; base += 8u) {
    uint64_t w;
    uint32_t k;
    memcpy(&w, fired + base, sizeof w);
    if (w == 0) continue;
    for (k = 0; k < 8u; k++) {
      spikes[m] = (uint16_t)(base + k);
      m += fired[base + k];
    }
  }
  return m;
}

/* On x86-64 Linux with GCC, the neuron update is also compiled for AVX2 and picked at load time
 * (an ifunc): the baseline SSE2 has no 32-bit min/max/multiply, and the AVX2 clone is about 3x
 * faster. Define SC_NO_CLONES to build the baseline only. Other targets (e.g. NEON) vectorise
 * the plain C. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(SC_NO_CLONES)
#define SC_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SC_CLONES
#endif

/* Steps 2.3-2.5 of one neuron: the decayed membrane `v` adds the decayed current and the bias
 * (one saturation), then spikes with subtractive reset. Branch-free, so loops vectorise.
 * Returns 1 on a spike. */
static int32_t fire(int32_t v, int32_t isyn, int32_t bias, int32_t th, int16_t *vmem) {
  int32_t s;
  v = sat16(v + isyn + bias);
  s = v >= th;
  v -= th & -s;
  *vmem = (int16_t)v;
  return s;
}

/* Step 2 of a sub-step over all neurons. No branches, so it vectorises. */
SC_CLONES static void update_neurons(uint32_t n, int32_t *restrict acc, int32_t *restrict rec0,
                                     int32_t *restrict rec1, int32_t rec_scale, int16_t *restrict vmem,
                                     uint8_t *restrict fired, uint8_t *restrict count,
                                     const int16_t *restrict threshold,
                                     const int16_t *restrict bias,
                                     const int32_t *restrict mul_syn,
                                     const int32_t *restrict mul_mem) {
  uint32_t i;
  for (i = 0; i < n; i++) {
    int32_t isyn = decay_mul(sat16(acc[i] + (rec0[i] + rec1[i]) * rec_scale), mul_syn[i]);
    int32_t s = fire(decay_mul(vmem[i], mul_mem[i]), isyn, bias[i], threshold[i], &vmem[i]);
    acc[i] = isyn;
    rec0[i] = 0;
    rec1[i] = 0;
    fired[i] = (uint8_t)s;
    count[i] = (uint8_t)(count[i] + s);
  }
}

#if SC_AVX2
/* Neuron i of step 2, scalar (the tail of the AVX2 update). Returns 1 if it spiked. rec0 may
 * be acc (then acc already holds the first stream's weights; weight_shift_rec is 0). */
static int32_t update_one(uint32_t i, int32_t *acc, int32_t *rec0, int32_t *rec1,
                          int32_t rec_scale, int16_t *vmem, const int16_t *threshold,
                          const int16_t *bias, const sc_model *m) {
  int32_t a = rec0 == acc ? acc[i] + rec1[i] : acc[i] + (rec0[i] + rec1[i]) * rec_scale;
  int32_t isyn = decay(sat16(a), (int32_t)m->dash_syn[i]);
  int32_t v = decay(vmem[i], (int32_t)m->dash_mem[i]);
  int32_t s = fire(v, isyn, bias[i], threshold[i], &vmem[i]);
  rec0[i] = 0;
  rec1[i] = 0;
  acc[i] = isyn; /* after rec0[i] = 0: rec0 may be acc */
  return s;
}

/* decay() of 16 int16 lanes, d given as (m, c) of k16 (see sc_init). */
__attribute__((target("avx2"))) static __m256i decay16(__m256i x, __m256i m, __m256i c) {
  const __m256i zero = _mm256_setzero_si256();
  __m256i f = _mm256_add_epi16(_mm256_mulhi_epi16(x, m), _mm256_and_si256(x, c));
  __m256i y = _mm256_sub_epi16(x, f);
  return _mm256_add_epi16(
      y, _mm256_and_si256(_mm256_cmpgt_epi16(x, zero), _mm256_cmpeq_epi16(f, zero)));
}

/* Step 2 over all neurons, 16 at a time in 16-bit lanes, and the new spike list (ascending;
 * count[] is incremented for each spike). Returns the number of spikes. */
__attribute__((target("avx2"))) static uint32_t update_avx2(
    uint32_t n, int32_t *acc, int32_t *rec0, int32_t *restrict rec1, uint32_t shift_rec,
    int16_t *restrict vmem, uint8_t *restrict count,
    const int16_t *restrict threshold, const int16_t *restrict bias, const int16_t *restrict k16,
    uint16_t *restrict spikes, const sc_model *m) {
  const __m256i zero = _mm256_setzero_si256();
  const __m128i sh = _mm_cvtsi32_si128((int)shift_rec);
  const int16_t *msyn = k16, *csyn = k16 + n, *mmem = k16 + 2u * n, *cmem = k16 + 3u * n;
  uint32_t i, ns = 0;
  for (i = 0; i + 16u <= n; i += 16u) {
    __m256i a0 = _mm256_loadu_si256((const __m256i *)(const void *)(acc + i));
    __m256i a1 = _mm256_loadu_si256((const __m256i *)(const void *)(acc + i + 8u));
    __m256i r0 = _mm256_loadu_si256((const __m256i *)(const void *)(rec1 + i));
    __m256i r1 = _mm256_loadu_si256((const __m256i *)(const void *)(rec1 + i + 8u));
    __m256i x, isyn, v, sv, si, b, sb, lo, hi, th, below;
    uint32_t mask;
    _mm256_storeu_si256((__m256i *)(void *)(rec1 + i), zero);
    _mm256_storeu_si256((__m256i *)(void *)(rec1 + i + 8u), zero);
    if (rec0 != acc) {
      r0 = _mm256_add_epi32(r0, _mm256_loadu_si256((const __m256i *)(const void *)(rec0 + i)));
      r1 = _mm256_add_epi32(r1,
                            _mm256_loadu_si256((const __m256i *)(const void *)(rec0 + i + 8u)));
      _mm256_storeu_si256((__m256i *)(void *)(rec0 + i), zero);
      _mm256_storeu_si256((__m256i *)(void *)(rec0 + i + 8u), zero);
      r0 = _mm256_sll_epi32(r0, sh);
      r1 = _mm256_sll_epi32(r1, sh);
    }
    a0 = _mm256_add_epi32(a0, r0);
    a1 = _mm256_add_epi32(a1, r1);
    /* sat16, back in neuron order (packs works within 128-bit lanes). */
    x = _mm256_permute4x64_epi64(_mm256_packs_epi32(a0, a1), 0xD8);
    isyn = decay16(x, _mm256_loadu_si256((const __m256i *)(const void *)(msyn + i)),
                   _mm256_loadu_si256((const __m256i *)(const void *)(csyn + i)));
    _mm256_storeu_si256((__m256i *)(void *)(acc + i),
                        _mm256_cvtepi16_epi32(_mm256_castsi256_si128(isyn)));
    _mm256_storeu_si256((__m256i *)(void *)(acc + i + 8u),
                        _mm256_cvtepi16_epi32(_mm256_extracti128_si256(isyn, 1)));
    v = decay16(_mm256_loadu_si256((const __m256i *)(const void *)(vmem + i)),
                _mm256_loadu_si256((const __m256i *)(const void *)(mmem + i)),
                _mm256_loadu_si256((const __m256i *)(const void *)(cmem + i)));
    /* sat16(v + isyn + bias) of the exact sum: widen (in lane order), add, pack. */
    b = _mm256_loadu_si256((const __m256i *)(const void *)(bias + i));
    sv = _mm256_srai_epi16(v, 15);
    si = _mm256_srai_epi16(isyn, 15);
    sb = _mm256_srai_epi16(b, 15);
    lo = _mm256_add_epi32(_mm256_add_epi32(_mm256_unpacklo_epi16(v, sv),
                                           _mm256_unpacklo_epi16(isyn, si)),
                          _mm256_unpacklo_epi16(b, sb));
    hi = _mm256_add_epi32(_mm256_add_epi32(_mm256_unpackhi_epi16(v, sv),
                                           _mm256_unpackhi_epi16(isyn, si)),
                          _mm256_unpackhi_epi16(b, sb));
    v = _mm256_packs_epi32(lo, hi);
    th = _mm256_loadu_si256((const __m256i *)(const void *)(threshold + i));
    below = _mm256_cmpgt_epi16(th, v); /* no spike */
    v = _mm256_sub_epi16(v, _mm256_andnot_si256(below, th));
    _mm256_storeu_si256((__m256i *)(void *)(vmem + i), v);
    /* Bits 2j of mask: neuron i + j spiked. The first two spikes without a branch (a chunk of
     * 16 has at most two in about 19 cases of 20 at a 5 % rate); bit 31 is a sentinel for ctz,
     * and a write past the list is overwritten later (spikes has room for N8 >= i + 16). */
    {
      /* count[i..i+16) += 1 where spiked: the 16-bit masks packed to bytes in neuron order. */
      __m256i pb = _mm256_permute4x64_epi64(_mm256_packs_epi16(below, below), 0x08);
      __m128i cnt = _mm_loadu_si128((const __m128i *)(const void *)(count + i));
      cnt = _mm_add_epi8(cnt, _mm_add_epi8(_mm256_castsi256_si128(pb), _mm_set1_epi8(1)));
      _mm_storeu_si128((__m128i *)(void *)(count + i), cnt);
    }
    mask = ~(uint32_t)_mm256_movemask_epi8(below) & 0x55555555u;
    {
      uint32_t k = (uint32_t)__builtin_ctz(mask | 0x80000000u) >> 1, any = mask != 0;
      spikes[ns] = (uint16_t)(i + k);
      ns += any;
      mask &= mask - 1u;
      k = (uint32_t)__builtin_ctz(mask | 0x80000000u) >> 1;
      any = mask != 0;
      spikes[ns] = (uint16_t)(i + k);
      ns += any;
      mask &= mask - 1u;
    }
    while (mask != 0) {
      spikes[ns++] = (uint16_t)(i + ((uint32_t)__builtin_ctz(mask) >> 1));
      mask &= mask - 1u;
    }
  }
  for (; i < n; i++) {
    if (update_one(i, acc, rec0, rec1, (int32_t)1 << shift_rec, vmem, threshold, bias, m)) {
      spikes[ns++] = (uint16_t)i;
      count[i] = (uint8_t)(count[i] + 1u);
    }
  }
  return ns;
}

/* The trace and the features of one sample (see sc_step), 16 neurons at a time, and count[]
 * back to 0. The sum sat16(y + count * 2^shift) is done as two saturating adds of halves of
 * count * 2^shift (<= 2^15, which does not fit an int16): exact, since both halves are >= 0. */
__attribute__((target("avx2"))) static void trace_avx2(uint32_t n, int16_t *restrict trace,
                                                       uint8_t *restrict count, int16_t *restrict fc,
                                                       int16_t *restrict ft, uint32_t dash,
                                                       uint32_t shift) {
  const __m256i zero = _mm256_setzero_si256();
  const __m128i d = _mm_cvtsi32_si128((int)dash), sh = _mm_cvtsi32_si128((int)shift);
  uint32_t i;
  for (i = 0; i + 16u <= n; i += 16u) {
    __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(trace + i));
    __m256i c = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(count + i)));
    __m256i f = _mm256_sra_epi16(x, d);
    __m256i y = _mm256_add_epi16(
        _mm256_sub_epi16(x, f),
        _mm256_and_si256(_mm256_cmpgt_epi16(x, zero), _mm256_cmpeq_epi16(f, zero)));
    __m256i cs = _mm256_sll_epi16(c, sh);
    __m256i h = _mm256_srli_epi16(cs, 1);
    __m256i t = _mm256_adds_epi16(_mm256_adds_epi16(y, h), _mm256_sub_epi16(cs, h));
    _mm256_storeu_si256((__m256i *)(void *)(trace + i), t);
    _mm256_storeu_si256((__m256i *)(void *)(ft + i), t);
    _mm256_storeu_si256((__m256i *)(void *)(fc + i), c);
    _mm_storeu_si128((__m128i *)(void *)(count + i), _mm_setzero_si128());
  }
  for (; i < n; i++) {
    int32_t tr = sat16(decay(trace[i], (int32_t)dash) + count[i] * ((int32_t)1 << shift));
    trace[i] = (int16_t)tr;
    fc[i] = (int16_t)count[i];
    ft[i] = (int16_t)tr;
    count[i] = 0;
  }
}
#endif

#if SC_AVX2
/* out[0..n) = the sums of the dense rows of the `ns` neurons in `spikes` (see the top of this
 * file), 128 targets at a time in eight int16 registers (fewer switches between rows than
 * 64 at a time: 4 % faster at N = 1024), widened to int32 at the store. */
__attribute__((target("avx2"))) static void dense_avx2(uint32_t n, const int8_t *dense,
                                                       const uint16_t *spikes, uint32_t ns,
                                                       int32_t *restrict out) {
  uint32_t b = 0, q, i, j;
  /* The 16 weights row[at .. at+16) as int16, and the store of 16 sums as int32. */
#define SC_ROW16(at) \
  _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(row + (at))))
#define SC_STORE16(s, at)                                                                      \
  do {                                                                                         \
    _mm256_storeu_si256((__m256i *)(void *)(out + (at)),                                     \
                        _mm256_cvtepi16_epi32(_mm256_castsi256_si128(s)));                   \
    _mm256_storeu_si256((__m256i *)(void *)(out + (at) + 8u),                                \
                        _mm256_cvtepi16_epi32(_mm256_extracti128_si256(s, 1)));              \
  } while (0)
  for (; b + 128u <= n; b += 128u) {
    __m256i s[8];
    for (j = 0; j < 8u; j++) s[j] = _mm256_setzero_si256();
    for (q = 0; q < ns; q++) {
      const int8_t *row = dense + (size_t)spikes[q] * n + b;
      for (j = 0; j < 8u; j++) s[j] = _mm256_add_epi16(s[j], SC_ROW16(16u * j));
    }
    for (j = 0; j < 8u; j++) SC_STORE16(s[j], b + 16u * j);
  }
  for (; b + 16u <= n; b += 16u) {
    __m256i s0 = _mm256_setzero_si256();
    for (q = 0; q < ns; q++) {
      const int8_t *row = dense + (size_t)spikes[q] * n + b;
      s0 = _mm256_add_epi16(s0, SC_ROW16(0u));
    }
    SC_STORE16(s0, b);
  }
#undef SC_ROW16
#undef SC_STORE16
  for (i = b; i < n; i++) {
    int32_t sum = 0;
    for (q = 0; q < ns; q++) sum += dense[(size_t)spikes[q] * n + i];
    out[i] = sum;
  }
}
#endif

uint32_t sc_step(sc_reservoir *r, const uint8_t *input, int16_t *features, uint32_t samples) {
  const sc_model *m = r->model;
  const uint32_t n = m->neurons, ni = m->inputs, f = m->fanout, ns = m->substeps;
  const int32_t in_scale = (int32_t)1 << m->weight_shift_in;
  const int32_t rec_scale = (int32_t)1 << m->weight_shift_rec;
  const int32_t trace_dash = (int32_t)m->trace_dash;
  const int32_t trace_scale = (int32_t)1 << m->trace_shift;
  const uint16_t *const in_target = m->in_target, *const rec_target = m->rec_target;
  const int8_t *const in_weight = m->in_weight, *const rec_weight = m->rec_weight;
  int32_t *const acc = r->acc;
  /* With weight_shift_rec = 0 the AVX2 update lets the first recurrent stream add straight into
   * acc (acc + rec0 + rec1 is all it needs), which saves it a load and a store of rec0. */
  int32_t *const rec0 = (r->simd && m->weight_shift_rec == 0u) ? acc : r->rec;
  int32_t *const rec1 = r->rec + n;
  uint8_t *const count = r->count;
  int16_t *const trace = r->trace;
  uint32_t total = 0, t, s, j, k, q, i;
  uint16_t active[SC_MAX_INPUTS];

  for (t = 0; t < samples; t++) {
    /* count[] is 0 here: sc_init and sc_reset clear it, and the trace loop below does. */
    for (s = 0; s < ns; s++) {
      const uint8_t *c = input + ((size_t)t * ns + s) * ni;
      const uint16_t *spikes = r->spikes;
      const uint32_t n_spikes = r->n_spikes;
      uint16_t *swap;

      /* Step 1: input events, then the spikes of the previous sub-step. */
      {
        /* The active channels (branch-free), then their rows two at a time. */
        uint32_t na = 0, a;
        for (j = 0; j < ni; j++) {
          active[na] = (uint16_t)j;
          na += c[j] != 0;
        }
        for (a = 0; a + 2u <= na; a += 2u) {
          const uint32_t j0 = active[a], j1 = active[a + 1u];
          const int32_t s0 = (int32_t)(c[j0] > SC_MAX_INPUT_COUNT ? SC_MAX_INPUT_COUNT : c[j0]);
          const int32_t s1 = (int32_t)(c[j1] > SC_MAX_INPUT_COUNT ? SC_MAX_INPUT_COUNT : c[j1]);
          const uint16_t *tg0 = in_target + (size_t)j0 * f, *tg1 = in_target + (size_t)j1 * f;
          const int8_t *wt0 = in_weight + (size_t)j0 * f, *wt1 = in_weight + (size_t)j1 * f;
          const int32_t sc0 = s0 * in_scale, sc1 = s1 * in_scale;
          for (k = 0; k < f; k++) {
            acc[tg0[k]] += wt0[k] * sc0;
            acc[tg1[k]] += wt1[k] * sc1;
          }
        }
        if (a < na) {
          const uint32_t j0 = active[a];
          const int32_t s0 =
              (int32_t)(c[j0] > SC_MAX_INPUT_COUNT ? SC_MAX_INPUT_COUNT : c[j0]) * in_scale;
          const uint16_t *tg0 = in_target + (size_t)j0 * f;
          const int8_t *wt0 = in_weight + (size_t)j0 * f;
          for (k = 0; k < f; k++) acc[tg0[k]] += wt0[k] * s0;
        }
      }
#if SC_AVX2
      if (r->dense != NULL) {
        /* rec1 is all 0 after the update, so with no spike there is nothing to store. */
        if (n_spikes != 0u) dense_avx2(n, r->dense, spikes, n_spikes, rec1);
      } else
#endif
      {
        for (q = 0; q + 2u <= n_spikes; q += 2u) {
          const uint16_t *tg0 = rec_target + (size_t)spikes[q] * f;
          const int8_t *wt0 = rec_weight + (size_t)spikes[q] * f;
          const uint16_t *tg1 = rec_target + (size_t)spikes[q + 1u] * f;
          const int8_t *wt1 = rec_weight + (size_t)spikes[q + 1u] * f;
          for (k = 0; k < f; k++) {
            rec0[tg0[k]] += wt0[k];
            rec1[tg1[k]] += wt1[k];
          }
        }
        if (q < n_spikes) {
          const uint16_t *tg0 = rec_target + (size_t)spikes[q] * f;
          const int8_t *wt0 = rec_weight + (size_t)spikes[q] * f;
          for (k = 0; k < f; k++) rec0[tg0[k]] += wt0[k];
        }
      }

      /* Step 2, then the new spike list. */
#if SC_AVX2
      if (r->simd) {
        r->n_spikes = update_avx2(n, acc, rec0, rec1, m->weight_shift_rec, r->vmem, count,
                                  m->threshold, m->bias, r->k16, r->next_spikes, m);
      } else
#endif
      {
        update_neurons(n, acc, rec0, rec1, rec_scale, r->vmem, r->fired, count, m->threshold,
                       m->bias, r->mul_syn, r->mul_mem);
        r->n_spikes = collect_spikes(r->fired, n, r->next_spikes);
      }
      swap = r->spikes;
      r->spikes = r->next_spikes;
      r->next_spikes = swap;
      total += r->n_spikes;
    }

    /* The trace and the features of this sample. */
    {
      int16_t *fc = features + (size_t)t * 2u * n;
      int16_t *ft = fc + n;
#if SC_AVX2
      if (r->simd) {
        trace_avx2(n, trace, count, fc, ft, m->trace_dash, m->trace_shift);
        continue;
      }
#endif
      for (i = 0; i < n; i++) {
        int32_t tr = sat16(decay(trace[i], trace_dash) + count[i] * trace_scale);
        trace[i] = (int16_t)tr;
        fc[i] = (int16_t)count[i];
        ft[i] = (int16_t)tr;
        count[i] = 0;
      }
    }
  }
  return total;
}

const char *sc_kernel(const sc_reservoir *r) {
  return r->dense != NULL ? "avx2-dense" : r->simd ? "avx2" : "portable";
}

/* ---- canonical state encoding (SPEC.md, "State"): explicit little-endian bytes ------------- */

static void put16(uint8_t *p, int32_t v) {
  uint32_t u = (uint32_t)v & 0xFFFFu;
  p[0] = (uint8_t)(u & 0xFFu);
  p[1] = (uint8_t)(u >> 8);
}

static int16_t get16(const uint8_t *p) {
  int32_t u = (int32_t)p[0] | ((int32_t)p[1] << 8);
  return (int16_t)(u >= 32768 ? u - 65536 : u);
}

int sc_get_state(const sc_reservoir *r, uint8_t *out, size_t out_bytes) {
  size_t n, i;
  if (r == NULL || r->model == NULL) return SC_ENOMODEL;
  n = r->model->neurons;
  if (out == NULL || out_bytes != n * 7u) return SC_ESTATE;
  for (i = 0; i < n; i++) {
    put16(out + 2u * i, r->acc[i]);
    put16(out + 2u * (n + i), r->vmem[i]);
    put16(out + 2u * (2u * n + i), r->trace[i]);
    out[6u * n + i] = 0;
  }
  /* spiked[] from the spike list (the AVX2 update does not keep `fired`). */
  for (i = 0; i < r->n_spikes; i++) out[6u * n + r->spikes[i]] = 1;
  return SC_OK;
}

int sc_set_state(sc_reservoir *r, const uint8_t *in, size_t in_bytes) {
  size_t n, i;
  if (r == NULL || r->model == NULL) return SC_ENOMODEL;
  n = r->model->neurons;
  if (in == NULL || in_bytes != n * 7u) return SC_ESTATE;
  for (i = 0; i < n; i++) {
    r->acc[i] = get16(in + 2u * i);
    r->vmem[i] = get16(in + 2u * (n + i));
    r->trace[i] = get16(in + 2u * (2u * n + i));
    r->fired[i] = (uint8_t)(in[6u * n + i] != 0);
  }
  r->n_spikes = collect_spikes(r->fired, (uint32_t)n, r->spikes);
  return SC_OK;
}
