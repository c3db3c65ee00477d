// Fused SGD: several steps against a float64 transcription of torch.optim.SGD.
#include "test_util.h"

using namespace rntest;

int main() {
  std::mt19937_64 rng(5);
  const int64_t count = 100003;  // odd: exercises vector tails and uneven thread splits
  for (int threads : {1, 2}) {
    rn_context* ctx = rn_context_create(threads);
    for (int isa : isa_levels()) {
      RN_EXPECT_OK(rn_context_set_isa(ctx, isa));
      for (int nesterov : {0, 1}) {
        for (float momentum : {0.0f, 0.9f}) {
          if (nesterov && momentum == 0.0f) continue;
          float dampening = (!nesterov && momentum != 0.0f) ? 0.1f : 0.0f;
          Buffer param(count), grad(count), vel(count);
          param.fill_random(rng);
          vel.poison();  // first step must not read it
          std::vector<double> p_ref = param.to_double(), v_ref(count, 0.0);
          for (int step = 0; step < 4; ++step) {
            grad.fill_random(rng);
            rn_sgd_params sp{0.1f, momentum, dampening, 1e-4f, nesterov, step == 0};
            RN_EXPECT_OK(rn_sgd_step(ctx, &sp, count, param.data(), grad.data(), momentum != 0 ? vel.data() : nullptr));
            for (int64_t i = 0; i < count; ++i) {
              double g = grad[i] + 1e-4 * p_ref[i];
              if (momentum != 0.0f) {
                v_ref[i] = step == 0 ? g : 0.9 * v_ref[i] + (1.0 - dampening) * g;
                g = nesterov ? g + 0.9 * v_ref[i] : v_ref[i];
              }
              p_ref[i] -= 0.1 * g;
            }
          }
          char label[96];
          std::snprintf(label, sizeof label, "sgd %s t=%d nesterov=%d momentum=%g", rn_isa_name(isa), threads,
                        nesterov, momentum);
          expect_close(label, param, p_ref, 1e-6);
          if (momentum != 0.0f) expect_close(label, vel, v_ref, 1e-6);

          // Fused equals the unfused four-pass composition within float32 rounding.
          Buffer p_fused(count), p_unfused(count), v_fused(count), v_unfused(count);
          p_fused.fill_random(rng);
          std::memcpy(p_unfused.data(), p_fused.data(), sizeof(float) * count);
          for (int step = 0; step < 3; ++step) {
            grad.fill_random(rng);
            rn_sgd_params sp{0.05f, momentum, dampening, 5e-4f, nesterov, step == 0};
            float* vf = momentum != 0 ? v_fused.data() : nullptr;
            float* vu = momentum != 0 ? v_unfused.data() : nullptr;
            RN_EXPECT_OK(rn_sgd_step(ctx, &sp, count, p_fused.data(), grad.data(), vf));
            RN_EXPECT_OK(rn_sgd_step_unfused(ctx, &sp, count, p_unfused.data(), grad.data(), vu));
          }
          std::snprintf(label, sizeof label, "sgd fused vs unfused %s nesterov=%d momentum=%g", rn_isa_name(isa),
                        nesterov, momentum);
          expect_close(label, p_fused, p_unfused.to_double(), 1e-6);
        }
      }
    }
    rn_sgd_params bad{0.1f, 0.0f, 0.0f, 0.0f, 1, 0};
    float v = 0;
    RN_EXPECT(rn_sgd_step(ctx, &bad, 1, &v, &v, nullptr) == RN_STATUS_BAD_ARGUMENT, "nesterov without momentum");
    rn_context_destroy(ctx);
  }
  return finish("test_sgd");
}
