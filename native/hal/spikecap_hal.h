/*
 * spikecap HAL: the C ABI between the spikecap agent and a vendor driver for a reservoir
 * accelerator (a neuromorphic chip, an FPGA, a microcontroller on a serial line, ...).
 *
 * A driver is a shared library (.so) that exports one symbol:
 *
 *     const sc_hal_ops *sc_hal_entry(uint32_t abi_version);
 *
 * The agent dlopen()s the library, calls sc_hal_entry(SC_HAL_ABI_VERSION) and drives the device
 * through the returned table of functions. The device must compute exactly what
 * native/core/SPEC.md defines, bit for bit: the agent compares backends against the C core
 * (native/core/reservoir.c). native/hal/core_driver.c is a complete driver around that core;
 * start from it.
 *
 * Build: a C99 (or C++) shared library. This header includes ../core/reservoir.h (sc_model,
 * enum sc_status, the SC_MAX_* limits): keep the two directories side by side as in
 * native/. Export only sc_hal_entry, e.g. compile with -fvisibility=hidden; SC_HAL_EXPORT
 * below marks the entry point. Example:
 *     cc -std=c99 -O2 -fPIC -fvisibility=hidden -shared -o acme_driver.so acme_driver.c
 *        native/core/reservoir.c     (the core only if the driver uses it, as core_driver.c does)
 *
 * ---- Conventions that hold for every op ------------------------------------------------------
 *
 * Return values. Every op that returns int returns SC_OK (0) or a negative enum sc_status:
 *   SC_EINVAL     a bad argument: a NULL pointer where one is required, a model that breaks a
 *                 range or the distinct-targets rule of SPEC.md, an `args` string the driver
 *                 does not understand.
 *   SC_ENOMODEL   step/get_state/set_state/reset before a successful load (or after a failed
 *                 one).
 *   SC_ELIMIT     load: the model is valid by SPEC.md but exceeds what this device can hold
 *                 (more neurons, inputs, fan-out or sub-steps than capabilities() reports, or
 *                 a finer limit such as total synapse memory).
 *   SC_ENOMEM     the driver could not allocate host memory.
 *   SC_ESTATE     get_state/set_state with a buffer length other than 7 * neurons.
 *   SC_EIO        the driver cannot talk to the device: it was unplugged, the serial port or
 *                 the kernel driver returned an error, the link is down. The agent treats the
 *                 device as gone: it closes it and may open it again later.
 *   SC_ETIMEDOUT  the device did not answer within the driver's time limit. The agent may
 *                 retry, reset or reopen.
 *   SC_EFAULT     the device answered but reported an internal fault (a parity or checksum
 *                 error, a firmware assertion, a result that fails the driver's own checks).
 * No other values. After SC_EIO, SC_ETIMEDOUT or SC_EFAULT the reservoir state of the device is
 * unspecified (the agent restores it with set_state or reset before trusting results again);
 * after any other error nothing changed, except that a failed load leaves no model.
 *
 * Threads. One device handle is used by one thread at a time: the agent never calls two ops on
 * the same `dev` concurrently, but successive calls may come from different threads. Different
 * handles (of the same library) may be used concurrently from different threads, so a driver
 * keeps its state in the handle, not in globals, or locks what it shares. sc_hal_entry and
 * strerror may be called from any thread at any time and must be pure.
 *
 * Blocking. The agent calls ops synchronously, today on its main thread. An op that talks to
 * hardware must bound its wait and return SC_ETIMEDOUT rather than hang; a step of a few
 * samples should take at most milliseconds.
 *
 * Ownership. Pointers the agent passes (args, model and its arrays, input, features, state
 * buffers) are valid only for the duration of the call: a driver copies what it needs and
 * keeps no pointer. The handle `*dev` belongs to the driver from a successful open until close.
 * The ops table and the strings strerror returns are static: they live as long as the library
 * is loaded. The agent closes every handle before it dlclose()s the library.
 */
#ifndef SPIKECAP_HAL_H
#define SPIKECAP_HAL_H

#include <stddef.h>
#include <stdint.h>

#include "../core/reservoir.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this ABI. A change to any struct or op below gets a new number. */
#define SC_HAL_ABI_VERSION 1u

/* The name of the one symbol a driver exports. */
#define SC_HAL_ENTRY_SYMBOL "sc_hal_entry"

#if defined(_WIN32)
#define SC_HAL_EXPORT __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define SC_HAL_EXPORT __attribute__((visibility("default")))
#else
#define SC_HAL_EXPORT
#endif

/* What a device can hold. Every limit is at most the SPEC.md limit (SC_MAX_* of reservoir.h). */
typedef struct sc_hal_caps {
  uint32_t abi_version;  /* SC_HAL_ABI_VERSION */
  char name[48];         /* NUL-terminated, printable ASCII, e.g. "acme-xylo-usb"; for logs */
  uint32_t max_neurons;  /* largest N the device runs */
  uint32_t max_inputs;   /* largest I */
  uint32_t max_fanout;   /* largest F */
  uint32_t max_substeps; /* largest S */
} sc_hal_caps;

typedef struct sc_hal_ops {
  /* SC_HAL_ABI_VERSION: the version this table implements. */
  uint32_t abi_version;

  /* Opens a device. `args` is a driver-defined configuration string (for example
   * "/dev/ttyACM0" or "serial=1234,timeout_ms=50"); NULL or "" means the driver's default
   * device. On success stores a handle in *dev and returns SC_OK; the device then holds no
   * model. On failure returns an error, leaves *dev untouched and has freed everything it
   * allocated. SC_EINVAL: `args` not understood; SC_EIO: no such device or it does not
   * answer; SC_ENOMEM. */
  int (*open)(const char *args, void **dev);

  /* Fills *out (every field, name NUL-terminated). Callable at any time after open, with or
   * without a model; must not block on the device for long (cache what open learnt). */
  int (*capabilities)(void *dev, sc_hal_caps *out);

  /* Loads a model, replacing any previous one, and resets the state (SPEC.md, "State": all
   * zero). The driver checks the model (every range and the distinct-targets rule of SPEC.md:
   * SC_EINVAL; beyond its capabilities: SC_ELIMIT) and copies what it needs: the sc_model
   * struct and its arrays may be freed as soon as load returns. After a failed load the device
   * holds no model (SC_ENOMODEL until a load succeeds). May take long (seconds for a large
   * model over a slow link). */
  int (*load)(void *dev, const sc_model *model);

  /* Runs `samples` input samples (SPEC.md, "One input sample"), continuing from the current
   * state. `input`: samples * substeps * inputs counts, sample after sample, each sample
   * row-major by sub-step; counts above 15 count as 15. `features`: receives
   * samples * 2 * neurons values, per sample the N spike counts then the N traces. Stores the
   * number of spikes of these samples, modulo 2^32, in *spikes_out (the agent keeps
   * samples * neurons * substeps below 2^32 per call). samples == 0 is valid and does
   * nothing. SC_EINVAL: a NULL pointer; SC_ENOMODEL; SC_EIO/SC_ETIMEDOUT/SC_EFAULT. If it
   * fails, the contents of `features` and *spikes_out are unspecified. */
  int (*step)(void *dev, const uint8_t *input, int16_t *features, uint32_t samples,
              uint32_t *spikes_out);

  /* Writes the canonical state encoding of SPEC.md, exactly 7 * neurons bytes. */
  int (*get_state)(void *dev, uint8_t *out, size_t out_bytes);

  /* Sets the state from the canonical encoding, exactly 7 * neurons bytes; a non-zero spiked
   * byte counts as 1. A following get_state returns the same bytes (spiked as 0 or 1). */
  int (*set_state)(void *dev, const uint8_t *in, size_t in_bytes);

  /* Sets the whole state to zero; the model stays. */
  int (*reset)(void *dev);

  /* Releases the device and everything the handle owns; `dev` is invalid afterwards. Called
   * exactly once for every successful open, also after errors (then it frees what it can and
   * does not block for long). Never fails. */
  void (*close)(void *dev);

  /* A short static English description of a status code (never NULL; also for codes this
   * driver does not use and for unknown values), e.g. "device did not answer in time". */
  const char *(*strerror)(int code);
} sc_hal_ops;

/* The entry point. Returns the ops table if the driver speaks `abi_version`, else NULL. It must
 * not touch any device or allocate: the agent may call it just to probe a library. */
SC_HAL_EXPORT const sc_hal_ops *sc_hal_entry(uint32_t abi_version);

/* The type of sc_hal_entry, for dlsym(). */
typedef const sc_hal_ops *(*sc_hal_entry_fn)(uint32_t abi_version);

#ifdef __cplusplus
}
#endif

#endif
