/*
 * For programs written for the seed project, which include its header as
 * <microtcp.h>: with this directory on the include path (the microtcp_compat
 * CMake target adds it) they compile unchanged against compat.h.
 */
#include "microtcp/compat.h"
