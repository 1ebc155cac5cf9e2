# Turns a data file into a C source holding it as a NUL-terminated char array, so data
# that ships with authgate (the Azure built-in role definitions) is compiled in rather
# than looked up at run time. Run as a script:
#   cmake -DIN=<file> -DOUT=<file.c> -DSYMBOL=<c name> -P embed_file.cmake
# Defines: const char SYMBOL[] (with a trailing NUL) and const unsigned long SYMBOL_len.
if(NOT IN OR NOT OUT OR NOT SYMBOL)
  message(FATAL_ERROR "embed_file.cmake: IN, OUT and SYMBOL are required")
endif()
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR nbytes "${hexlen} / 2")
# Two hex digits per byte -> "0xNN," ; 16 bytes per line keeps the file readable.
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REPEAT "0x..," 16 sixteen) # CMake regexes have no {n} counts
string(REGEX REPLACE "(${sixteen})" "\\1\n    " body "${body}")
get_filename_component(name "${IN}" NAME)
file(WRITE "${OUT}.tmp"
  "/* Generated from ${name} by cmake/embed_file.cmake; do not edit. */\n"
  "const char ${SYMBOL}[] = {\n    ${body}0x00\n};\n"
  "const unsigned long ${SYMBOL}_len = ${nbytes}UL;\n")
# Only touch OUT when the content changed, so a re-run does not force a rebuild.
configure_file("${OUT}.tmp" "${OUT}" COPYONLY)
file(REMOVE "${OUT}.tmp")
