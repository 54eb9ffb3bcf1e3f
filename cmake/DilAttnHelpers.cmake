# Link helpers. Development and CI builds link every binary against Debian's
# shared libMLIR.so and libLLVM.so (fast links, little disk); never mix the
# shared libraries with static MLIR archives in one binary.
#
# DILATTN_STATIC_LLVM instead links the static MLIR and LLVM component
# archives (and libstdc++, libgcc, libzstd) into the tools, for a machine with
# no LLVM/MLIR installed: the result needs only glibc and libz.
# scripts/build-device drives it.

if(NOT DILATTN_STATIC_LLVM)
  set(MLIR_LINK_MLIR_DYLIB ON)
  set(DILATTN_LLVM_LINK_LIBS LLVM)
else()
  set(MLIR_LINK_MLIR_DYLIB OFF)
  set(LLVM_LINK_LLVM_DYLIB OFF)

  # What MLIR's libraries and ours use from LLVM. The NVPTX back end is here
  # for the GPU path (gpu-module-to-binary through the NVVM target). A static
  # archive only contributes the objects that something references, so the
  # list can be generous: unused components cost link time, not size.
  set(DILATTN_LLVM_COMPONENTS
    Core Support TargetParser BinaryFormat Demangle Remarks Coroutines
    Analysis TransformUtils Passes ipo InstCombine ScalarOpts Vectorize
    AggressiveInstCombine ObjCARCOpts Instrumentation
    CodeGen CodeGenTypes SelectionDAG AsmPrinter GlobalISel Target MC MCParser
    MCDisassembler Object BitReader BitWriter IRReader AsmParser Linker
    ExecutionEngine OrcJIT OrcShared OrcTargetProcess JITLink RuntimeDyld
    PerfJITEvents
    FrontendOpenMP FrontendOffloading FrontendHLSL FrontendAtomic
    X86CodeGen X86AsmParser X86Desc X86Info X86Disassembler
    NVPTXCodeGen NVPTXDesc NVPTXInfo)
  # (LLVM 22 has no separate X86/NVPTX AsmPrinter libraries: the printers
  # are in the CodeGen ones.) Skip components this LLVM does not have: they
  # move between releases.
  set(DILATTN_LLVM_PRESENT_COMPONENTS)
  foreach(component IN LISTS DILATTN_LLVM_COMPONENTS)
    if(TARGET LLVM${component})
      list(APPEND DILATTN_LLVM_PRESENT_COMPONENTS ${component})
    else()
      message(STATUS "DILATTN_STATIC_LLVM: no LLVM component ${component}")
    endif()
  endforeach()
  llvm_map_components_to_libnames(DILATTN_LLVM_LINK_LIBS
    ${DILATTN_LLVM_PRESENT_COMPONENTS})

  # zstd: LLVMSupport names zstd::libzstd_shared; link libzstd.a instead
  # (Debian: libzstd-dev). LLVMSupport also names libz3.so, which only the
  # SMT solver API uses: dropped.
  find_library(DILATTN_ZSTD_STATIC_LIBRARY NAMES libzstd.a)
  if(NOT DILATTN_ZSTD_STATIC_LIBRARY)
    message(FATAL_ERROR "DILATTN_STATIC_LLVM needs libzstd.a (Debian: "
      "apt-get install libzstd-dev)")
  endif()
  add_library(dilattn_zstd_static STATIC IMPORTED)
  set_target_properties(dilattn_zstd_static PROPERTIES
    IMPORTED_LOCATION "${DILATTN_ZSTD_STATIC_LIBRARY}")
  if(NOT TARGET zstd::libzstd_shared)
    add_library(zstd::libzstd_shared INTERFACE IMPORTED)
    set_target_properties(zstd::libzstd_shared PROPERTIES
      INTERFACE_LINK_LIBRARIES dilattn_zstd_static)
  endif()
  get_target_property(support_libs LLVMSupport INTERFACE_LINK_LIBRARIES)
  set(rewritten)
  foreach(lib IN LISTS support_libs)
    if(lib MATCHES "^zstd::")
      list(APPEND rewritten dilattn_zstd_static)
    elseif(NOT lib MATCHES "libz3")
      list(APPEND rewritten "${lib}")
    endif()
  endforeach()
  set_target_properties(LLVMSupport PROPERTIES
    INTERFACE_LINK_LIBRARIES "${rewritten}")

  # The exported MLIR targets name the LLVM dylib (`LLVM`, once
  # `$<LINK_ONLY:LLVM>`): point them at the static components. The few built
  # outside libMLIR.so (MLIRExecutionEngine, runners, test libraries) also
  # name `MLIR`, the dylib: replace it by what upstream links there
  # (mlir/lib/ExecutionEngine/CMakeLists.txt), or by a name that fails the
  # link loudly for targets we have not mapped.
  set(DILATTN_MLIR_DEPS_MLIRExecutionEngine
    MLIRBuiltinToLLVMIRTranslation MLIRExecutionEngineUtils MLIRLLVMDialect
    MLIRLLVMToLLVMIRTranslation MLIROpenMPToLLVMIRTranslation
    MLIRTargetLLVMIRExport)
  foreach(target IN LISTS MLIR_EXPORTED_TARGETS)
    if(NOT TARGET ${target})
      continue()
    endif()
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "EXECUTABLE")
      continue()
    endif()
    get_target_property(libs ${target} INTERFACE_LINK_LIBRARIES)
    if(NOT libs)
      continue()
    endif()
    set(rewritten)
    foreach(lib IN LISTS libs)
      if(lib STREQUAL "MLIR")
        if(DEFINED DILATTN_MLIR_DEPS_${target})
          list(APPEND rewritten ${DILATTN_MLIR_DEPS_${target}})
        else()
          list(APPEND rewritten "dilattn-static-llvm-cannot-link-${target}")
        endif()
      elseif(lib STREQUAL "LLVM")
        list(APPEND rewritten ${DILATTN_LLVM_LINK_LIBS})
      elseif(lib STREQUAL "$<LINK_ONLY:LLVM>")
        foreach(llvm_lib IN LISTS DILATTN_LLVM_LINK_LIBS)
          list(APPEND rewritten "$<LINK_ONLY:${llvm_lib}>")
        endforeach()
      else()
        list(APPEND rewritten "${lib}")
      endif()
    endforeach()
    set_target_properties(${target} PROPERTIES
      INTERFACE_LINK_LIBRARIES "${rewritten}")
  endforeach()

  # Only glibc (and libz) stays dynamic; drop unreferenced sections (LLVM's
  # archives are built with -ffunction-sections -fdata-sections).
  add_compile_options(-ffunction-sections -fdata-sections)
  add_link_options(-static-libstdc++ -static-libgcc -Wl,--gc-sections
                   -Wl,--as-needed)
  # Nothing to find next to the binary or in /usr/lib/llvm-22 at run time.
  set(CMAKE_SKIP_RPATH ON)
endif()

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
  target_link_libraries(${name} PUBLIC ${ARG_LINK_LIBS}
                        ${DILATTN_LLVM_LINK_LIBS})
endfunction()
