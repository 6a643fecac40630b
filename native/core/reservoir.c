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
 *
 * Propagation is event-driven: a sub-step costs F per input channel with a non-zero count and
 * F per spike of the previous sub-step (a scatter into acc), plus one pass over the N neurons
 * that GCC can vectorise (no branches, no data-dependent shifts of negative values).
 */
#include "reservoir.h"

#include <string.h>

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

size_t sc_workspace_bytes(const sc_model *model) {
  size_t n;
  if (model == NULL || model->neurons < 2u || model->neurons > SC_MAX_NEURONS) return 0;
  n = model->neurons;
  return n * 4u              /* mul_syn */
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
  r->n_spikes = 0;
  memset(workspace, 0, need); /* padding of `fired` included */
  for (i = 0; i < n; i++) {
    r->mul_syn[i] = (int32_t)1 << (16u - model->dash_syn[i]);
    r->mul_mem[i] = (int32_t)1 << (16u - model->dash_mem[i]);
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
    int32_t v = decay_mul(vmem[i], mul_mem[i]);
    int32_t th = threshold[i];
    int32_t s;
    v = sat16(v + isyn + bias[i]);
    s = v >= th;
    v -= th & -s;
    vmem[i] = (int16_t)v;
    acc[i] = isyn;
    rec0[i] = 0;
    rec1[i] = 0;
    fired[i] = (uint8_t)s;
    count[i] = (uint8_t)(count[i] + s);
  }
}

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
  int32_t *const rec0 = r->rec, *const rec1 = r->rec + n;
  uint8_t *const count = r->count;
  int16_t *const trace = r->trace;
  uint32_t total = 0, t, s, j, k, q, i;

  for (t = 0; t < samples; t++) {
    memset(count, 0, n);
    for (s = 0; s < ns; s++) {
      const uint8_t *c = input + ((size_t)t * ns + s) * ni;
      const uint16_t *spikes = r->spikes;
      const uint32_t n_spikes = r->n_spikes;
      uint16_t *swap;

      /* Step 1: input events, then the spikes of the previous sub-step. */
      for (j = 0; j < ni; j++) {
        if (c[j] != 0) {
          const uint32_t count_j = c[j] > SC_MAX_INPUT_COUNT ? SC_MAX_INPUT_COUNT : c[j];
          const int32_t scale = (int32_t)count_j * in_scale;
          const uint16_t *tg = in_target + (size_t)j * f;
          const int8_t *wt = in_weight + (size_t)j * f;
          for (k = 0; k < f; k++) acc[tg[k]] += wt[k] * scale;
        }
      }
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

      /* Step 2, then the new spike list. */
      update_neurons(n, acc, rec0, rec1, rec_scale, r->vmem, r->fired, count, m->threshold, m->bias,
                     r->mul_syn, r->mul_mem);
      r->n_spikes = collect_spikes(r->fired, n, r->next_spikes);
      swap = r->spikes;
      r->spikes = r->next_spikes;
      r->next_spikes = swap;
      total += r->n_spikes;
    }

    /* The trace and the features of this sample. */
    {
      int16_t *fc = features + (size_t)t * 2u * n;
      int16_t *ft = fc + n;
      for (i = 0; i < n; i++) {
        int32_t tr = sat16(decay(trace[i], trace_dash) + count[i] * trace_scale);
        trace[i] = (int16_t)tr;
        fc[i] = (int16_t)count[i];
        ft[i] = (int16_t)tr;
      }
    }
  }
  return total;
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
    out[6u * n + i] = r->fired[i];
  }
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
