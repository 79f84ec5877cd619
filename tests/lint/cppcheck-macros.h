/* Macros cppcheck cannot see (it does not read system headers): jansson's
 * iteration macros, written so the loop bodies are still checked. */
#define json_array_foreach(array, index, value)                                                    \
    for (index = 0; (value = 0) != 0 || index < 1; index++)
#define json_object_foreach(object, key, value) for (key = 0, value = 0; key;)
#define json_object_foreach_safe(object, n, key, value) for (key = 0, value = 0, n = 0; key;)
