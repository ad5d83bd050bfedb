# One INTERFACE target carries the language level and the warning policy; every project target
# links it instead of touching global flags.
add_library(rollout_warnings INTERFACE)
add_library(rollout::warnings ALIAS rollout_warnings)
target_compile_features(rollout_warnings INTERFACE cxx_std_20)
target_compile_options(rollout_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Werror -Wconversion -Wsign-conversion -Wsuggest-override
  -Wnon-virtual-dtor -Wshadow>)
# GCC 12 reports -Wrestrict false positives inside libstdc++'s std::string concatenation at -O2/-O3
# (GCC bug 105329); the warning stays on for every other compiler.
target_compile_options(rollout_warnings INTERFACE $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
