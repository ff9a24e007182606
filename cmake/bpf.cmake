# Compiles each bpf/*.bpf.c to a BPF object and generates a libbpf skeleton header
# (<name>.skel.h) in ${CMAKE_BINARY_DIR}/skel.
find_program(BPFTOOL bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)
find_program(BPF_CLANG clang REQUIRED)

function(rein_bpf_skeletons target sources)
  set(skel_dir ${CMAKE_BINARY_DIR}/skel)
  file(MAKE_DIRECTORY ${skel_dir})
  file(GLOB bpf_headers CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/bpf/*.bpf.h ${CMAKE_SOURCE_DIR}/include/rein/abi/*.h)
  set(outputs)
  foreach(src ${sources})
    get_filename_component(name ${src} NAME_WE)
    set(obj ${skel_dir}/${name}.bpf.o)
    set(skel ${skel_dir}/${name}.skel.h)
    add_custom_command(
      OUTPUT ${obj} ${skel}
      COMMAND ${BPF_CLANG} -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Wall -Werror
              -Wno-unused-function
              -I${CMAKE_SOURCE_DIR}/bpf/vmlinux/x86 -I${CMAKE_SOURCE_DIR}/bpf
              -I${CMAKE_SOURCE_DIR}/include -c ${src} -o ${obj}
      COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}
      DEPENDS ${src} ${bpf_headers}
      COMMENT "BPF ${name}"
      VERBATIM)
    list(APPEND outputs ${skel})
  endforeach()
  add_custom_target(${target} DEPENDS ${outputs})
endfunction()
