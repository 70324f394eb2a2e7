#ifndef FLOCKER_CYAML_SHIM_H
#define FLOCKER_CYAML_SHIM_H
#include <yaml.h>
#endif
