# Sanitizer and fuzzing builds (docs/reliability.md, scripts/test-reliability).
# Both default off: the normal build is unchanged.
#
#   DILATTN_SANITIZER=Address;Undefined   ASan + UBSan on every dilattn object
#   DILATTN_SANITIZER=Thread              TSan
#   DILATTN_FUZZ=ON                       libFuzzer targets in test/Fuzz; every
#                                         object gets coverage instrumentation
#                                         (-fsanitize=fuzzer-no-link)
#
# They need clang (clang-22 and libclang-rt-22-dev from Debian). Only
# dilattn's own code is instrumented: Debian's libMLIR.so and libLLVM.so are
# not, which ASan and UBSan tolerate (they miss bugs inside those libraries,
# never report false ones) and TSan tolerates as long as threads synchronise
# through pthreads, which every lock in LLVM does.

set(DILATTN_SANITIZER "" CACHE STRING
  "Sanitizers for every dilattn object: Address;Undefined or Thread (clang)")
option(DILATTN_FUZZ "Build the libFuzzer targets in test/Fuzz (clang)" OFF)

set(DILATTN_SANITIZER_FLAGS)
foreach(sanitizer IN LISTS DILATTN_SANITIZER)
  if(sanitizer STREQUAL "Address")
    list(APPEND DILATTN_SANITIZER_FLAGS -fsanitize=address)
  elseif(sanitizer STREQUAL "Undefined")
    # Without -fno-rtti LLVM's headers and ours disagree: vptr is left out
    # (LLVM is built without RTTI). Any report is fatal, so that a test that
    # triggers undefined behaviour fails instead of printing and passing.
    list(APPEND DILATTN_SANITIZER_FLAGS -fsanitize=undefined
         -fno-sanitize=vptr -fno-sanitize-recover=all)
  elseif(sanitizer STREQUAL "Thread")
    list(APPEND DILATTN_SANITIZER_FLAGS -fsanitize=thread)
  else()
    message(FATAL_ERROR "DILATTN_SANITIZER: unknown sanitizer '${sanitizer}' "
      "(Address, Undefined or Thread)")
  endif()
endforeach()
if("Thread" IN_LIST DILATTN_SANITIZER AND "Address" IN_LIST DILATTN_SANITIZER)
  message(FATAL_ERROR "DILATTN_SANITIZER: Thread cannot be combined with "
    "Address")
endif()

if(DILATTN_SANITIZER_FLAGS OR DILATTN_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "DILATTN_SANITIZER and DILATTN_FUZZ need clang "
      "(-DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22)")
  endif()
  if(DILATTN_STATIC_LLVM)
    message(FATAL_ERROR "DILATTN_SANITIZER and DILATTN_FUZZ link the shared "
      "libMLIR.so and libLLVM.so: they cannot be combined with "
      "DILATTN_STATIC_LLVM")
  endif()
  # Frame pointers and line tables for readable reports.
  add_compile_options(${DILATTN_SANITIZER_FLAGS} -fno-omit-frame-pointer
                      -gline-tables-only)
  add_link_options(${DILATTN_SANITIZER_FLAGS})
endif()

if(DILATTN_FUZZ)
  # The sanitizer runtime also provides the coverage callbacks that every
  # instrumented object calls, in the unit tests and tools too.
  if(NOT "Address" IN_LIST DILATTN_SANITIZER)
    message(FATAL_ERROR "DILATTN_FUZZ needs DILATTN_SANITIZER=Address or "
      "Address;Undefined")
  endif()
  # Coverage counters in every object, so that the fuzzers are guided by
  # dilattn's code; only the fuzz targets link libFuzzer itself (its main).
  add_compile_options(-fsanitize=fuzzer-no-link)
  add_link_options(-fsanitize=fuzzer-no-link)
endif()
