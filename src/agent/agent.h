/*
 * agent.h - the agent daemon's entry point (corral agent).
 */
#ifndef CR_AGENT_AGENT_H
#define CR_AGENT_AGENT_H

/* Run an agent with argv (argv[0] = "agent"). Returns the process exit code. */
int cr_agent_main(int argc, char **argv);

#endif
