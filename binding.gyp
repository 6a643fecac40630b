{
  "targets": [
    {
      "target_name": "spikecap_native",
      "sources": ["native/addon/addon.cc", "native/addon/sd_notify.c"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra", "-Werror"],
      "cflags_cc": ["-fvisibility=hidden", "-Wall", "-Wextra", "-Werror", "-std=c++17"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"]
    }
  ]
}
