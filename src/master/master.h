/*
 * master.h - the master daemon's entry point (corral master).
 */
#ifndef CR_MASTER_MASTER_H
#define CR_MASTER_MASTER_H

/* Run a master with argv (argv[0] = "master"). Returns the process exit code. */
int cr_master_main(int argc, char **argv);

#endif
