/*
 * main.c - the `corral-executor` binary: a small program of its own (no HTTP stack, no
 * raft) so that one per task costs little memory and starts in about a millisecond.
 */
#include "executor/executor.h"

int main(int argc, char **argv)
{
    return cr_executor_main(argc, argv);
}
