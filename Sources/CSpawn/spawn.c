#include "pv_spawn.h"
