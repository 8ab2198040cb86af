/*
 * executor.h - `corral executor`: one per task, started by the agent (see executor.c).
 */
#ifndef CR_EXECUTOR_EXECUTOR_H
#define CR_EXECUTOR_EXECUTOR_H

/* Entry point of `corral executor`; argv[0] is "executor". Returns the exit status. */
int cr_executor_main(int argc, char **argv);

#endif
