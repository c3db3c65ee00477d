/* resnorm: umbrella header of the C API (one header per op family). */
#ifndef RESNORM_RESNORM_H
#define RESNORM_RESNORM_H
#include "resnorm/context.h"
#include "resnorm/conv2d.h"
#include "resnorm/weightnorm_conv.h"
#include "resnorm/linear.h"
#include "resnorm/softmax_xent.h"
#include "resnorm/sgd.h"
#include "resnorm/pooling.h"
#include "resnorm/shortcut.h"
#include "resnorm/batchnorm.h"
#include "resnorm/activation.h"
#endif
