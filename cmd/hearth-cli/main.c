/*
 * hearth-cli: the command-line client (upload, query, export, diff, ring,
 * ready). Everything lives in cli/; see cli/cli.h for commands and exit
 * codes.
 */
#include "cli.h"

int
main(int argc, char **argv)
{
	return hearth_cli_main(argc, argv);
}
