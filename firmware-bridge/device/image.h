/*
 * The model image of PROTOCOL.md section 6: checks an uploaded image and describes it as an
 * sc_model whose arrays point into the image itself, so a model costs no RAM beyond its image.
 */
#ifndef SPIKECAP_IMAGE_H
#define SPIKECAP_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "reservoir.h"

#define IMAGE_HEADER_BYTES 72u
#define IMAGE_VERSION 1u

enum image_status {
  IMAGE_OK = 0,
  IMAGE_EMODEL = 1, /* malformed, or breaks SPEC.md: E_MODEL */
  IMAGE_ELIMIT = 2  /* valid, but larger than this device: E_LIMIT */
};

/* What this device can run. */
typedef struct image_limits {
  uint32_t max_neurons;
  uint32_t max_inputs;
  uint32_t max_fanout;
  uint32_t max_substeps;
  size_t workspace_bytes; /* the reservoir workspace the device has */
} image_limits;

/* Why a load failed, for the ERROR response. */
typedef struct image_error {
  uint32_t detail; /* the expected size, or the limit exceeded; 0 when nothing fits */
  const char *text;
} image_error;

/* Checks image[0..size) and fills *model with pointers into it. `image` must be 4-aligned;
 * on a big-endian target its 16-bit arrays are converted in place (so it must be writable).
 * `scratch` (at least 2 * neurons bytes, 2-aligned; the workspace is fine) is used by
 * sc_model_check. On failure *model is unspecified and *err says why. */
enum image_status image_load(uint8_t *image, size_t size, const image_limits *limits,
                             void *scratch, size_t scratch_bytes, sc_model *model,
                             image_error *err);

#endif
