# Third-party libraries for rein_core: shared libraries for tests, fuzzers and benchmarks,
# Debian's static archives inside the `rein` binary (targets with the REIN_STATIC_DEPS
# property). Resolving the symbols of twenty shared libraries was a large part of every
# start of a short `rein replay` or `rein verify` (docs/capture.md, "Night of 2026-11-30").
# simdjson, fmt and the C/C++ runtimes stay shared: Debian ships no archive of the first
# two, and one copy of libstdc++ must serve them all.
option(REIN_STATIC_DEPS "Link the static archives of third-party libraries into rein" ON)
set(REIN_STATIC_HEAD "$<BOOL:$<TARGET_PROPERTY:REIN_STATIC_DEPS>>")

# rein_dep(<PkgConfig prefix> <archive>...): rein_dep_<prefix>, the shared PkgConfig target
# for ordinary targets and the archives, in link order, for REIN_STATIC_DEPS targets. When an
# archive is missing, everything links the shared library.
function(rein_dep prefix)
  set(archives "")
  foreach(name IN LISTS ARGN)
    find_library(REIN_ARCHIVE_${name} NAMES lib${name}.a)
    if(NOT REIN_ARCHIVE_${name} OR NOT REIN_STATIC_DEPS)
      set(archives "")
      break()
    endif()
    list(APPEND archives ${REIN_ARCHIVE_${name}})
  endforeach()
  add_library(rein_dep_${prefix} INTERFACE)
  if(NOT archives)
    target_link_libraries(rein_dep_${prefix} INTERFACE PkgConfig::${prefix})
    return()
  endif()
  # compile-time requirements (include dirs, definitions) always; the link side by head
  target_include_directories(rein_dep_${prefix} SYSTEM INTERFACE ${${prefix}_INCLUDE_DIRS})
  target_compile_options(rein_dep_${prefix} INTERFACE ${${prefix}_CFLAGS_OTHER})
  target_link_libraries(rein_dep_${prefix} INTERFACE "$<$<NOT:${REIN_STATIC_HEAD}>:PkgConfig::${prefix}>")
  foreach(a IN LISTS archives)
    target_link_libraries(rein_dep_${prefix} INTERFACE "$<${REIN_STATIC_HEAD}:${a}>")
  endforeach()
endfunction()

# zlib, which protobuf, libelf and SQLite also need, only in rein_dep_ZLIB: REIN_CORE_LIBS
# puts it after them (an archive resolves only what came before it on the link line).
rein_dep(PROTOBUF protobuf)
rein_dep(LIBBPF bpf elf)
rein_dep(ZLIB z)
rein_dep(ZSTD zstd)
rein_dep(BROTLI brotlidec brotlienc brotlicommon)
rein_dep(OPENSSL ssl crypto)
rein_dep(YAMLCPP yaml-cpp)
rein_dep(NGHTTP2 nghttp2)
rein_dep(SQLITE3 sqlite3)
rein_dep(HS hs)
