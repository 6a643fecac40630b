/*
 * The C core (native/core/reservoir.c) as a spikecap HAL driver: a reference for vendors and
 * the way the agent tests the HAL path end to end. It has no device: open() ignores `args`,
 * and SC_EIO, SC_ETIMEDOUT and SC_EFAULT never happen. Memory is allocated in open and load,
 * never in step. Only sc_hal_entry is exported (build with -fvisibility=hidden).
 */
#include <stdlib.h>
#include <string.h>

#include "spikecap_hal.h"

typedef struct core_dev {
  int loaded;       /* a model is loaded: model, blob, workspace and r are valid */
  sc_model model;   /* its arrays point into blob */
  void *blob;       /* the driver's copy of the model arrays */
  void *workspace;  /* sc_workspace_bytes(&model) */
  sc_reservoir r;
} core_dev;

static void unload(core_dev *d) {
  free(d->blob);
  free(d->workspace);
  d->blob = NULL;
  d->workspace = NULL;
  d->loaded = 0;
  memset(&d->model, 0, sizeof d->model);
  memset(&d->r, 0, sizeof d->r);
}

static int core_open(const char *args, void **dev) {
  core_dev *d;
  (void)args; /* no device to choose */
  if (dev == NULL) return SC_EINVAL;
  d = (core_dev *)calloc(1, sizeof *d);
  if (d == NULL) return SC_ENOMEM;
  *dev = d;
  return SC_OK;
}

static int core_capabilities(void *dev, sc_hal_caps *out) {
  static const char name[] = "spikecap-core";
  if (dev == NULL || out == NULL) return SC_EINVAL;
  memset(out, 0, sizeof *out);
  out->abi_version = SC_HAL_ABI_VERSION;
  memcpy(out->name, name, sizeof name);
  out->max_neurons = SC_MAX_NEURONS;
  out->max_inputs = SC_MAX_INPUTS;
  out->max_fanout = SC_MAX_FANOUT;
  out->max_substeps = SC_MAX_SUBSTEPS;
  return SC_OK;
}

/* The scalar ranges, so that the sizes below cannot overflow; sc_init checks everything. */
static int scalars_ok(const sc_model *m) {
  return m->neurons >= 2u && m->neurons <= SC_MAX_NEURONS && m->inputs >= 1u &&
         m->inputs <= SC_MAX_INPUTS && m->fanout >= 1u && m->fanout <= SC_MAX_FANOUT &&
         m->fanout <= m->neurons && m->substeps >= 1u && m->substeps <= SC_MAX_SUBSTEPS &&
         m->threshold != NULL && m->bias != NULL && m->dash_syn != NULL &&
         m->dash_mem != NULL && m->in_target != NULL && m->in_weight != NULL &&
         m->rec_target != NULL && m->rec_weight != NULL;
}

static int core_load(void *dev, const sc_model *model) {
  core_dev *d = (core_dev *)dev;
  size_t n, in_syn, rec_syn, bytes, wbytes;
  unsigned char *p;
  int rc;
  if (d == NULL) return SC_EINVAL;
  unload(d); /* a failed load leaves no model (spikecap_hal.h) */
  if (model == NULL || !scalars_ok(model)) return SC_EINVAL;

  n = model->neurons;
  in_syn = (size_t)model->inputs * model->fanout;
  rec_syn = n * model->fanout;
  /* 16-bit arrays first, then bytes: every array is naturally aligned in one block. */
  bytes = 2u * n + 2u * n + 2u * in_syn + 2u * rec_syn + n + n + in_syn + rec_syn;
  wbytes = sc_workspace_bytes(model);
  d->blob = malloc(bytes);
  d->workspace = malloc(wbytes);
  if (d->blob == NULL || d->workspace == NULL) {
    unload(d);
    return SC_ENOMEM;
  }

  d->model = *model;
  p = (unsigned char *)d->blob;
  memcpy(p, model->threshold, 2u * n);
  d->model.threshold = (const int16_t *)(void *)p;
  p += 2u * n;
  memcpy(p, model->bias, 2u * n);
  d->model.bias = (const int16_t *)(void *)p;
  p += 2u * n;
  memcpy(p, model->in_target, 2u * in_syn);
  d->model.in_target = (const uint16_t *)(void *)p;
  p += 2u * in_syn;
  memcpy(p, model->rec_target, 2u * rec_syn);
  d->model.rec_target = (const uint16_t *)(void *)p;
  p += 2u * rec_syn;
  memcpy(p, model->dash_syn, n);
  d->model.dash_syn = p;
  p += n;
  memcpy(p, model->dash_mem, n);
  d->model.dash_mem = p;
  p += n;
  memcpy(p, model->in_weight, in_syn);
  d->model.in_weight = (const int8_t *)p;
  p += in_syn;
  memcpy(p, model->rec_weight, rec_syn);
  d->model.rec_weight = (const int8_t *)p;

  rc = sc_init(&d->r, &d->model, d->workspace, wbytes); /* checks the model, resets */
  if (rc != SC_OK) {
    unload(d);
    return rc;
  }
  d->loaded = 1;
  return SC_OK;
}

static int core_step(void *dev, const uint8_t *input, int16_t *features, uint32_t samples,
                     uint32_t *spikes_out) {
  core_dev *d = (core_dev *)dev;
  if (d == NULL || spikes_out == NULL) return SC_EINVAL;
  if (!d->loaded) return SC_ENOMODEL;
  if (samples == 0) {
    *spikes_out = 0;
    return SC_OK;
  }
  if (input == NULL || features == NULL) return SC_EINVAL;
  *spikes_out = sc_step(&d->r, input, features, samples);
  return SC_OK;
}

static int core_get_state(void *dev, uint8_t *out, size_t out_bytes) {
  core_dev *d = (core_dev *)dev;
  if (d == NULL) return SC_EINVAL;
  if (!d->loaded) return SC_ENOMODEL;
  return sc_get_state(&d->r, out, out_bytes);
}

static int core_set_state(void *dev, const uint8_t *in, size_t in_bytes) {
  core_dev *d = (core_dev *)dev;
  if (d == NULL) return SC_EINVAL;
  if (!d->loaded) return SC_ENOMODEL;
  return sc_set_state(&d->r, in, in_bytes);
}

static int core_reset(void *dev) {
  core_dev *d = (core_dev *)dev;
  if (d == NULL) return SC_EINVAL;
  if (!d->loaded) return SC_ENOMODEL;
  sc_reset(&d->r);
  return SC_OK;
}

static void core_close(void *dev) {
  core_dev *d = (core_dev *)dev;
  if (d == NULL) return;
  unload(d);
  free(d);
}

static const char *core_strerror(int code) {
  switch (code) {
    case SC_OK: return "success";
    case SC_EINVAL: return "invalid argument or model";
    case SC_ENOMODEL: return "no model loaded";
    case SC_ELIMIT: return "model exceeds the device's limits";
    case SC_ENOMEM: return "out of memory";
    case SC_ESTATE: return "state buffer of the wrong length";
    case SC_EIO: return "cannot communicate with the device";
    case SC_ETIMEDOUT: return "device did not answer in time";
    case SC_EFAULT: return "device reported a fault";
    default: return "unknown error";
  }
}

static const sc_hal_ops core_ops = {
    SC_HAL_ABI_VERSION, core_open,      core_capabilities, core_load,  core_step,
    core_get_state,     core_set_state, core_reset,        core_close, core_strerror};

SC_HAL_EXPORT const sc_hal_ops *sc_hal_entry(uint32_t abi_version) {
  return abi_version == SC_HAL_ABI_VERSION ? &core_ops : NULL;
}
