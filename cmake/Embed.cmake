# slipway_embed(OUTPUT_C SYMBOL FILES...)
#
# Generates a C file with one table `SYMBOL[]` of {name, data, size} entries,
# one per file, terminated by {NULL, NULL, 0}. The data are NUL-terminated
# byte arrays, so text files can be used as C strings. Regenerated when any
# input changes. Used for migrations/*.sql and web/* assets.
function(slipway_embed output symbol base_dir)
  set(files ${ARGN})
  add_custom_command(
    OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${output} -DSYMBOL=${symbol}
            -DBASE_DIR=${base_dir} "-DFILES=${files}"
            -P ${CMAKE_SOURCE_DIR}/cmake/EmbedRun.cmake
    DEPENDS ${files} ${CMAKE_SOURCE_DIR}/cmake/EmbedRun.cmake
    COMMENT "Embedding ${symbol}"
    VERBATIM)
endfunction()
