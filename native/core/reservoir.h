/*
 * The spikecap reservoir core: the integer spiking network of SPEC.md, in C99.
 *
 * No heap, no globals, no OS calls: the caller owns every byte. A model (sc_model) is a set of
 * read-only arrays the caller keeps alive; an instance (sc_reservoir) is a small struct plus a
 * workspace of sc_workspace_bytes(model) bytes that the caller provides. Any number of
 * instances may share one model. This is the code the board firmware links.
 */
#ifndef SPIKECAP_RESERVOIR_H
#define SPIKECAP_RESERVOIR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Limits of SPEC.md, "Model parameters". */
#define SC_MAX_NEURONS 8192u
#define SC_MAX_INPUTS 256u
#define SC_MAX_FANOUT 512u
#define SC_MAX_SUBSTEPS 16u
#define SC_MAX_WEIGHT_SHIFT 7u
#define SC_MAX_DASH 15u
#define SC_MAX_TRACE_SHIFT 11u
#define SC_MAX_INPUT_COUNT 15u

/* Error codes, shared with the HAL ABI (native/hal/spikecap_hal.h). 0 is success. */
enum sc_status {
  SC_OK = 0,
  SC_EINVAL = -1,   /* a bad argument or model; nothing changed */
  SC_ENOMODEL = -2, /* no model loaded */
  SC_ELIMIT = -3,   /* the model exceeds this implementation's limits */
  SC_ENOMEM = -4,   /* workspace too small (or, in a driver, allocation failed) */
  SC_ESTATE = -5,   /* a state buffer of the wrong length */
  SC_EIO = -6,      /* a driver could not talk to its device */
  SC_ETIMEDOUT = -7,/* a driver's device did not answer in time */
  SC_EFAULT = -8    /* a driver's device reported an internal fault */
};

/* A model: parameters and weights, field by field as in SPEC.md. Arrays are read-only. */
typedef struct sc_model {
  uint32_t neurons;
  uint32_t inputs;
  uint32_t fanout;
  uint32_t substeps;
  uint32_t weight_shift_in;
  uint32_t weight_shift_rec;
  uint32_t trace_dash;
  uint32_t trace_shift;
  const int16_t *threshold;  /* [neurons] */
  const int16_t *bias;       /* [neurons] */
  const uint8_t *dash_syn;   /* [neurons] */
  const uint8_t *dash_mem;   /* [neurons] */
  const uint16_t *in_target; /* [inputs * fanout] */
  const int8_t *in_weight;   /* [inputs * fanout] */
  const uint16_t *rec_target;/* [neurons * fanout] */
  const int8_t *rec_weight;  /* [neurons * fanout] */
} sc_model;

/* One instance. Fields are private to reservoir.c; they are here so callers can embed it.
 * Between calls, acc[i] holds the synaptic current isyn[i] of SPEC.md. */
typedef struct sc_reservoir {
  const sc_model *model;
  int32_t *mul_syn;     /* [neurons] 2^(16 - dash_syn[i]): decay by multiply, which vectorises */
  int32_t *mul_mem;     /* [neurons] 2^(16 - dash_mem[i]) */
  int32_t *acc;         /* [neurons] isyn between sub-steps; the accumulator during one */
  int32_t *rec;         /* [2 * neurons] recurrent weights received in a sub-step, unshifted */
  int16_t *vmem;        /* [neurons] */
  int16_t *trace;       /* [neurons] */
  uint16_t *spikes;     /* indices of the neurons that spiked in the last sub-step */
  uint32_t n_spikes;
  uint16_t *next_spikes;
  uint8_t *count;       /* [neurons] spikes of each neuron in the sample being computed */
  uint8_t *fired;       /* [neurons rounded up to 8] spiked[i] of SPEC.md, 0 or 1 (portable path) */
  uint32_t simd;        /* 1: the AVX2 neuron update (x86-64), which uses k16 and not fired */
  int16_t *k16;         /* [4 * neurons] in the place of mul_syn/mul_mem when simd is 1 */
  int8_t *dense;        /* [neurons * neurons] recurrent weights as a matrix, or NULL */
} sc_reservoir;

/* Checks every range and the distinct-targets rule of SPEC.md in O((inputs + neurons) * fanout).
 * `scratch` is at least neurons * 2 bytes, aligned to 2 (a workspace of sc_workspace_bytes
 * covers it). Returns SC_OK or SC_EINVAL (also for a NULL array or a too small scratch). */
int sc_model_check(const sc_model *model, void *scratch, size_t scratch_bytes);

/* Bytes of workspace one instance of `model` needs: about 32 * neurons, plus neurons^2 on
 * x86-64 when neurons <= 1024 and neurons <= 16 * fanout (room for the dense recurrent matrix;
 * it depends on `neurons` and `fanout` only). 0 if `neurons` is out of range. */
size_t sc_workspace_bytes(const sc_model *model);

/* Binds an instance to a model and a workspace, and resets it. The workspace must be aligned
 * to 4 bytes. The model struct and its arrays must stay alive and unchanged while the instance
 * is used. sc_init runs sc_model_check itself (the workspace is its scratch), so an instance
 * never runs on a model that breaks SPEC.md. Returns SC_OK, SC_EINVAL (a NULL or misaligned
 * pointer, or a model that fails sc_model_check) or SC_ENOMEM (workspace_bytes too small). */
int sc_init(sc_reservoir *r, const sc_model *model, void *workspace, size_t workspace_bytes);

/* All state to zero (SPEC.md, "State"). */
void sc_reset(sc_reservoir *r);

/* Runs `samples` input samples. `input` holds samples * substeps * inputs counts (any count
 * above 15 counts as 15); `features` receives samples * 2 * neurons values (per sample the
 * spike counts, then the traces). Returns the number of spikes in these samples, modulo 2^32
 * (callers that step more than 2^32 / (neurons * substeps) samples in one call and need the
 * exact total split the call). Costs O(samples * substeps * (N + fanout * events)); it never
 * fails on an initialised instance. */
uint32_t sc_step(sc_reservoir *r, const uint8_t *input, int16_t *features, uint32_t samples);

/* Which code computes this instance, for diagnostics and tests: "avx2-dense" (AVX2 with the
 * dense recurrent matrix), "avx2" (AVX2, scattered recurrent events) or "portable". */
const char *sc_kernel(const sc_reservoir *r);

/* The canonical state encoding of SPEC.md: 7 * neurons bytes, little-endian on any host.
 * get/set return SC_OK, SC_ENOMODEL (an instance without a model) or SC_ESTATE (NULL buffer
 * or any other length). set_state takes any non-zero spiked byte as 1. */
size_t sc_state_bytes(const sc_model *model);
int sc_get_state(const sc_reservoir *r, uint8_t *out, size_t out_bytes);
int sc_set_state(sc_reservoir *r, const uint8_t *in, size_t in_bytes);

#ifdef __cplusplus
}
#endif

#endif
