/*
 * Parsing and checking the model image (PROTOCOL.md section 6). Every length is checked
 * against the upload size before any array is touched; the ranges of the scalars are checked
 * before they go into a size computation, so nothing here can overflow or read out of bounds.
 */
#include "image.h"

#include "le.h"

static enum image_status fail(image_error *err, enum image_status st, uint32_t detail,
                              const char *text) {
  err->detail = detail;
  err->text = text;
  return st;
}

/* Byte-swaps n 16-bit values in place: the arrays are little-endian on the wire. */
static void swap16(uint8_t *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    const uint8_t t = p[2u * i];
    p[2u * i] = p[2u * i + 1u];
    p[2u * i + 1u] = t;
  }
}

enum image_status image_load(uint8_t *image, size_t size, const image_limits *limits,
                             void *scratch, size_t scratch_bytes, sc_model *m,
                             image_error *err) {
  uint32_t n, ni, f;
  uint64_t expect;
  size_t nf, inf;
  uint8_t *p;

  if (size < IMAGE_HEADER_BYTES) {
    return fail(err, IMAGE_EMODEL, IMAGE_HEADER_BYTES, "image shorter than its header");
  }
  if (image[0] != 'S' || image[1] != 'C' || image[2] != 'I' || image[3] != 'M') {
    return fail(err, IMAGE_EMODEL, 0, "bad image magic (expected SCIM)");
  }
  if (le_get32(image + 4) != IMAGE_VERSION) {
    return fail(err, IMAGE_EMODEL, IMAGE_VERSION, "unsupported image version");
  }
  m->neurons = le_get32(image + 8);
  m->inputs = le_get32(image + 12);
  m->fanout = le_get32(image + 16);
  m->substeps = le_get32(image + 20);
  m->weight_shift_in = le_get32(image + 24);
  m->weight_shift_rec = le_get32(image + 28);
  m->trace_dash = le_get32(image + 32);
  m->trace_shift = le_get32(image + 36);
  n = m->neurons;
  ni = m->inputs;
  f = m->fanout;

  /* SPEC.md's ranges first: they bound the size computation below. */
  if (n < 2u || n > SC_MAX_NEURONS || ni < 1u || ni > SC_MAX_INPUTS || f < 1u ||
      f > SC_MAX_FANOUT || f > n || m->substeps < 1u || m->substeps > SC_MAX_SUBSTEPS ||
      m->weight_shift_in > SC_MAX_WEIGHT_SHIFT || m->weight_shift_rec > SC_MAX_WEIGHT_SHIFT ||
      m->trace_dash > SC_MAX_DASH || m->trace_shift > SC_MAX_TRACE_SHIFT) {
    return fail(err, IMAGE_EMODEL, 0, "a model parameter is out of SPEC.md's range");
  }
  expect = (uint64_t)IMAGE_HEADER_BYTES + 6u * (uint64_t)n + 3u * (uint64_t)ni * f +
           3u * (uint64_t)n * f;
  if ((uint64_t)size != expect) {
    return fail(err, IMAGE_EMODEL, (uint32_t)expect, "image size does not match its model");
  }
  if (n > limits->max_neurons) {
    return fail(err, IMAGE_ELIMIT, limits->max_neurons, "more neurons than max_neurons");
  }
  if (ni > limits->max_inputs) {
    return fail(err, IMAGE_ELIMIT, limits->max_inputs, "more inputs than max_inputs");
  }
  if (f > limits->max_fanout) {
    return fail(err, IMAGE_ELIMIT, limits->max_fanout, "fan-out above max_fanout");
  }
  if (m->substeps > limits->max_substeps) {
    return fail(err, IMAGE_ELIMIT, limits->max_substeps, "more sub-steps than max_substeps");
  }
  if (sc_workspace_bytes(m) > limits->workspace_bytes) {
    return fail(err, IMAGE_ELIMIT, (uint32_t)limits->workspace_bytes,
                "reservoir workspace too large");
  }

  /* The arrays, in image order: the 16-bit ones first, so each is aligned to its type. */
  nf = (size_t)n * f;
  inf = (size_t)ni * f;
  p = image + IMAGE_HEADER_BYTES;
  if (!le_native()) swap16(p, 2u * (size_t)n + inf + nf);
  m->threshold = (const int16_t *)(const void *)p;
  p += 2u * (size_t)n;
  m->bias = (const int16_t *)(const void *)p;
  p += 2u * (size_t)n;
  m->in_target = (const uint16_t *)(const void *)p;
  p += 2u * inf;
  m->rec_target = (const uint16_t *)(const void *)p;
  p += 2u * nf;
  m->dash_syn = p;
  p += n;
  m->dash_mem = p;
  p += n;
  m->in_weight = (const int8_t *)p;
  p += inf;
  m->rec_weight = (const int8_t *)p;

  if (sc_model_check(m, scratch, scratch_bytes) != SC_OK) {
    return fail(err, IMAGE_EMODEL, 0, "model breaks SPEC.md (range or repeated target)");
  }
  return IMAGE_OK;
}
