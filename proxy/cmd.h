/* Sub-commands of the authgate binary. Each returns the process exit status. */
#ifndef AG_CMD_H
#define AG_CMD_H

int ag_cmd_serve(int argc, char **argv);   /* cmd_serve.c: authgate serve --config FILE */
int ag_cmd_demo(int argc, char **argv);    /* cmd_serve.c: authgate demo */
int ag_cmd_check(int argc, char **argv);   /* cmd_check.c: authgate check ... */
int ag_cmd_who_can(int argc, char **argv); /* cmd_check.c: authgate who-can ... */
int ag_cmd_login(int argc, char **argv);   /* cmd_login.c: kubectl exec credential plugin */

int ag_cmd_webhook_kubeconfig(int argc, char **argv); /* cmd_webhook_kubeconfig.c */

#endif
