# The layer table (cmake/layers.txt) for CMake, and the build-time include check.
#   REIN_LAYER_MAX          highest layer number
#   REIN_LAYER_<n>          the dirs of layer n
#   REIN_LAYER_OF_<dir>     the layer of a dir
#   rein_layer_check        target: tools/check-layers over userspace/ and include/rein/;
#                           every layer library depends on it, so nothing compiles while an
#                           include points up (a header-only back-edge never reaches the
#                           linker, so the libraries' link order alone cannot catch it)
set(REIN_LAYER_TABLE ${CMAKE_SOURCE_DIR}/cmake/layers.txt)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${REIN_LAYER_TABLE})
file(STRINGS ${REIN_LAYER_TABLE} _rein_layer_lines REGEX "^[ \t]*[0-9]")
set(REIN_LAYER_MAX 0)
foreach(_line IN LISTS _rein_layer_lines)
  string(REGEX REPLACE "#.*" "" _line "${_line}")
  string(STRIP "${_line}" _line)
  string(REGEX REPLACE "[ \t]+" ";" _words "${_line}")
  list(POP_FRONT _words _layer)
  foreach(_dir IN LISTS _words)
    set(REIN_LAYER_OF_${_dir} ${_layer})
    list(APPEND REIN_LAYER_${_layer} ${_dir})
  endforeach()
  if(_layer GREATER REIN_LAYER_MAX)
    set(REIN_LAYER_MAX ${_layer})
  endif()
endforeach()

# Sets src_<dir> in the caller for each dir of the source list: userspace/<dir>/... by its
# folder, a generated file by the name of its parent folder (gen/capture/x.pb.cc: capture).
macro(rein_sources_by_dir sources)
  foreach(_src IN LISTS ${sources})
    if(_src MATCHES "^${CMAKE_SOURCE_DIR}/userspace/([^/]+)/")
      set(_dir ${CMAKE_MATCH_1})
    else()
      get_filename_component(_dir ${_src} DIRECTORY)
      get_filename_component(_dir ${_dir} NAME)
    endif()
    if(NOT DEFINED REIN_LAYER_OF_${_dir})
      message(FATAL_ERROR "${_src}: userspace/${_dir} has no layer; add it to the layer table "
                          "cmake/layers.txt (see the comment at its top)")
    endif()
    list(APPEND src_${_dir} ${_src})
  endforeach()
endmacro()

find_program(PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH REQUIRED)  # as tests/deploy
file(GLOB_RECURSE REIN_LAYER_CHECK_INPUTS CONFIGURE_DEPENDS
  ${CMAKE_SOURCE_DIR}/userspace/*.h ${CMAKE_SOURCE_DIR}/userspace/*.hpp
  ${CMAKE_SOURCE_DIR}/userspace/*.c ${CMAKE_SOURCE_DIR}/userspace/*.cc
  ${CMAKE_SOURCE_DIR}/userspace/*.cpp ${CMAKE_SOURCE_DIR}/include/rein/*.h)
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/layers.stamp
  COMMAND ${PYTHON3} ${CMAKE_SOURCE_DIR}/tools/check-layers --root ${CMAKE_SOURCE_DIR} --quiet
  COMMAND ${CMAKE_COMMAND} -E touch ${CMAKE_BINARY_DIR}/layers.stamp
  DEPENDS ${REIN_LAYER_CHECK_INPUTS} ${REIN_LAYER_TABLE} ${CMAKE_SOURCE_DIR}/tools/check-layers
  COMMENT "check-layers: every include points down a layer (cmake/layers.txt)"
  VERBATIM)
add_custom_target(rein_layer_check DEPENDS ${CMAKE_BINARY_DIR}/layers.stamp)
