/* Sub-commands of the authgate binary. Each returns the process exit status. */
#ifndef AG_CMD_H
#define AG_CMD_H

int ag_cmd_serve(int argc, char **argv);   /* cmd_serve.c: authgate serve --config FILE */
int ag_cmd_demo(int argc, char **argv);    /* cmd_serve.c: authgate demo */
int ag_cmd_check(int argc, char **argv);   /* cmd_check.c: authgate check ... */
int ag_cmd_who_can(int argc, char **argv); /* cmd_check.c: authgate who-can ... */
int ag_cmd_login(int argc, char **argv);   /* cmd_login.c: kubectl exec credential plugin */
/* cmd_login.c: 0 when argv[1..] are valid `authgate login` sign-in options, else the usage
 * exit status after saying why on stderr (for authgate kubeconfig). */
int ag_cmd_login_check_args(int argc, char **argv);
int ag_cmd_kubeconfig(int argc, char **argv); /* cmd_kubeconfig.c: write a kubeconfig */

int ag_cmd_webhook_kubeconfig(int argc, char **argv); /* cmd_webhook_kubeconfig.c */

#endif
