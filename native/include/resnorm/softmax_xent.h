/*
 * Softmax cross-entropy with mean reduction over the batch, and top-k counts.
 *   loss = -(1/n) sum_i log softmax(logits_i)[label_i]
 *   dlogits[i, j] = scale * (softmax(logits_i)[j] - [j == label_i]) / n
 * logits: [n, classes] row-major; labels: n ints in [0, classes) (checked by the caller).
 * Softmax is computed with the row maximum subtracted (no overflow for large logits).
 */
#ifndef RESNORM_SOFTMAX_XENT_H
#define RESNORM_SOFTMAX_XENT_H

#include "resnorm/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the mean loss to *loss (computed in double, stored as float). A NaN logit
 * in a row gives a NaN loss: nothing is hidden. */
RN_API int rn_softmax_xent_forward(rn_context* ctx, int32_t n, int32_t classes,
                                   const float* logits, const int32_t* labels, float* loss);
/* dlogits (overwritten) = scale * d(loss)/d(logits). dlogits may alias logits. */
RN_API int rn_softmax_xent_backward(rn_context* ctx, int32_t n, int32_t classes,
                                    const float* logits, const int32_t* labels, float scale,
                                    float* dlogits);
/* Number of rows whose label is among the k largest logits. A row counts when fewer
 * than k logits are strictly greater than the label's logit (ties favour the label);
 * a row with a NaN logit never counts. */
RN_API int rn_topk_correct(rn_context* ctx, int32_t n, int32_t classes,
                           const float* logits, const int32_t* labels, int32_t k,
                           int64_t* correct);

#ifdef __cplusplus
}
#endif
#endif
