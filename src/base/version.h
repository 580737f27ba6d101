/* The crawlbench version, for --version and for the machine description in reports. */
#ifndef CRAWLBENCH_VERSION_H
#define CRAWLBENCH_VERSION_H

#define CRAWLBENCH_VERSION "0.1.0"

#endif
