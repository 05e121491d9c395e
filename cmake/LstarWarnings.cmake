# Warning flags for lstar's own targets: lstar_set_warnings(<target>)
function(lstar_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wpointer-arith -Wformat=2 -Wno-unused-parameter -Wvla $<$<C_COMPILER_ID:GNU>:-Wno-format-truncation>)
  if(LSTAR_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
