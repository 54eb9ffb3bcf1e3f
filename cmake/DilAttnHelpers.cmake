# Link helpers. Development and CI builds link every binary against Debian's
# shared libMLIR.so and libLLVM.so (fast links, little disk); never mix the
# shared libraries with static MLIR archives in one binary.

set(MLIR_LINK_MLIR_DYLIB ON)

# dilattn_add_library(name SOURCES... [MLIR_LIBS libs...] [LINK_LIBS libs...]
#                     [DEPENDS targets...])
function(dilattn_add_library name)
  cmake_parse_arguments(ARG "" "" "MLIR_LIBS;LINK_LIBS;DEPENDS" ${ARGN})
  add_library(${name} STATIC ${ARG_UNPARSED_ARGUMENTS})
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  if(ARG_DEPENDS)
    add_dependencies(${name} ${ARG_DEPENDS})
  endif()
  if(ARG_MLIR_LIBS)
    mlir_target_link_libraries(${name} PUBLIC ${ARG_MLIR_LIBS})
  endif()
  target_link_libraries(${name} PUBLIC ${ARG_LINK_LIBS} LLVM)
endfunction()
