/* Loads the installed librollout_plugin, creates a plugin from a config that names a missing
 * key, and checks the error comes back as a C string through the ABI. Prints the version. */
#include <rollout_plugin.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  char* error = NULL;
  rollout_plugin* p = rollout_plugin_create(argv[1], &error);
  if (p != NULL || error == NULL || strstr(error, "directive_key") == NULL) {
    fprintf(stderr, "expected a directive_key error, got %s\n", error ? error : "(none)");
    return 1;
  }
  rollout_string_free(error);
  printf("rollout_plugin %s abi %d\n", rollout_plugin_version(), rollout_plugin_abi_version());
  return 0;
}
