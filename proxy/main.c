/* authgate entry point: parses the sub-command and hands over to it. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: authgate serve|demo|check|who-can ...\n");
        return 2;
    }
    fprintf(stderr, "authgate: unknown command '%s'\n", argv[1]);
    return 2;
}
