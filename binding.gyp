{
  "targets": [
    {
      "target_name": "spikecap_core",
      "type": "static_library",
      "sources": ["native/core/reservoir.c"],
      "include_dirs": ["native/core"],
      "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra", "-Werror"],
      "cflags_c": ["-std=c99", "-pedantic", "-Wconversion", "-Wsign-conversion"],
      "configurations": { "Release": { "cflags": ["-O3"] } },
      "direct_dependent_settings": { "include_dirs": ["native/core"] }
    },
    {
      "target_name": "spikecap_native",
      "dependencies": ["spikecap_core"],
      "sources": ["native/addon/addon.cc", "native/addon/reservoir.cc", "native/addon/sd_notify.c"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native/hal"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra", "-Werror"],
      "cflags_c": ["-std=c99"],
      "cflags_cc": ["-fvisibility=hidden", "-Wall", "-Wextra", "-Werror", "-std=c++17"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-ldl"]
    },
    {
      "target_name": "spikecap_core_driver",
      "type": "shared_library",
      "dependencies": ["spikecap_core"],
      "sources": ["native/hal/core_driver.c"],
      "include_dirs": ["native/hal"],
      "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra", "-Werror"],
      "cflags_c": ["-std=c99", "-pedantic", "-Wconversion", "-Wsign-conversion"],
      "ldflags": ["-Wl,-z,defs"]
    },
    {
      "target_name": "spikecap_core_driver_portable",
      "type": "shared_library",
      "sources": ["native/core/reservoir.c", "native/hal/core_driver.c"],
      "include_dirs": ["native/core", "native/hal"],
      "defines": ["SC_NO_SIMD", "SC_NO_CLONES"],
      "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra", "-Werror"],
      "cflags_c": ["-std=c99", "-pedantic", "-Wconversion", "-Wsign-conversion"],
      "configurations": { "Release": { "cflags": ["-O3"] } },
      "ldflags": ["-Wl,-z,defs"]
    }
  ]
}
