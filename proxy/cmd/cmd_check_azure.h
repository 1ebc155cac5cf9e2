/* `authgate check` against Azure role assignments (cmd_check_azure.c). cmd_check.c hands
 * over with one line at its top:
 *
 *     if (ag_cmd_check_wants_azure(argc, argv)) return ag_cmd_check_azure(argc, argv);
 */
#ifndef AG_CMD_CHECK_AZURE_H
#define AG_CMD_CHECK_AZURE_H

#include <stdbool.h>

/* True when <argv> holds --arm-action or any --azure-* option. */
bool ag_cmd_check_wants_azure(int argc, char **argv);
/* authgate check --azure-assignments FILE... [--azure-definitions FILE...]
 *   [--azure-deny FILE...] [--cluster-id ID] --principal OID [--group GID...] [--explain]
 *   (--arm-action ACTION [--scope SCOPE] | VERB TYPE[.GROUP][/NAME] [--subresource S]
 *    [-n NS] | VERB /NON/RESOURCE/URL)
 * Prints yes or no (and the reason with --explain); exits 0 for yes, 1 for no, 2 for
 * usage or load errors. argv[0] is "check". */
int ag_cmd_check_azure(int argc, char **argv);

#endif
