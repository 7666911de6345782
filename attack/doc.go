// Package attack measures the adversarial robustness of a model: FGSM,
// iterative FGSM and PGD in L∞ and L2, and DeepFool (L2), run in parallel
// over a dataset; the robust-accuracy curve with sanity checks against
// gradient masking; DeepFool's minimal-perturbation robustness ρ_adv; and the
// saddle check of the inner maximisation of robust training (Yao et al.,
// "Hessian-based Analysis of Large Batch Training and Robustness to
// Adversaries", NeurIPS 2018).
//
// # Conventions
//
// Inputs are images with pixels in [0, 1], and every adversarial example is
// clipped to [0, 1]. BatchNorm is in eval mode (running statistics) while
// examples are generated and classified. The loss is the cross-entropy of the
// true label; attacks are untargeted. The attacks follow torchattacks
// (Harry24k/adversarial-attacks-pytorch), with the per-sample gradient g of
// the loss at the current point:
//
//   - FGSM, L∞: x' = clip(x + ε·sign(g)), sign(0) = 0 as torch.sign.
//     FGSM, L2 (the fast gradient method): x' = clip(x + ε·g/(‖g‖₂+1e-10)).
//   - PGD, L∞ (torchattacks.PGD): start x₀ = clip(x + U(−ε, ε)) with
//     RandomStart, else x; then Steps times x ← x + α·sign(g),
//     δ = clamp(x − x_clean, −ε, ε), x ← clip(x_clean + δ). Without random
//     start this is iterative FGSM (torchattacks.BIM, Kurakin et al.).
//   - PGD, L2 (torchattacks.PGDL2): the random start is δ = ε·u·z/‖z‖₂ with z
//     standard normal and u ~ U(0, 1) per sample (torchattacks' choice, not
//     uniform in the ball); each step is x ← x + α·g/(‖g‖₂+1e-10),
//     δ = (x − x_clean)·min(1, ε/‖x − x_clean‖₂), x ← clip(x_clean + δ).
//   - With Restarts R > 1, PGD runs R times from independent random starts;
//     a sample keeps the first run whose result is misclassified, else the
//     run of highest loss. Later runs attack only the samples not yet fooled.
//   - DeepFool (Moosavi-Dezfooli et al. 2016; Foolbox's L2DeepFoolAttack):
//     the candidate classes are the Candidates classes of largest clean
//     logit (default 10, all for 10-class models). At each iteration, with
//     f_k = z_k − z_y and w_k = ∇ₓf_k for every candidate k ≠ y, it picks
//     the k of smallest |f_k|/(‖w_k‖₂+1e-8) (the distance to the linearised
//     boundary), adds r = (|f_k|/(‖w_k‖+1e-8) + 1e-4)·w_k/(‖w_k‖+1e-8) to
//     the total r_tot and sets x = clip(x_clean + (1+overshoot)·r_tot);
//     it stops for a sample as soon as its label flips, or after Steps
//     iterations (default 50). Overshoot defaults to 0.02.
//
// Random numbers are drawn from math/rand/v2's PCG seeded by (Seed, sample
// id, restart), so a sample's start point does not depend on the batch it is
// in, the number of workers, or the other samples.
//
// # Metrics
//
// Evaluation attacks only the samples that the model classifies correctly;
// the others count as misclassified at every ε and keep a zero perturbation
// (as AutoAttack and Foolbox do). So:
//
//   - clean accuracy is the fraction of samples classified correctly;
//   - robust accuracy at ε is the fraction of all samples classified
//     correctly both clean and after the attack, so it never exceeds the
//     clean accuracy;
//   - the success rate is the fraction of attacked samples that the attack
//     fools, and the mean perturbation norms ‖x' − x‖₂ and ‖x' − x‖∞ are
//     averaged over the attacked samples;
//   - ρ_adv = mean over the correctly classified samples of
//     ‖x' − x‖₂ / ‖x‖₂ with x' DeepFool's example (overshoot and clipping
//     included). This is DeepFool's ρ̂_adv (its eq. 15, averaged over the test
//     set), which Yao et al. use, restricted to the correctly classified
//     samples: for a misclassified sample the minimal perturbation is zero,
//     and averaging zeros in would mix robustness with accuracy.
//     RhoAdvAll averages over all samples with those zeros, for comparison
//     with implementations that do. Samples DeepFool fails to flip within its
//     iterations keep their final perturbation and are counted in
//     DeepFoolFailures.
//
// # Parallelism and determinism
//
// Run, Robustness and SaddleCheck split the samples into fixed batches of
// BatchSize and hand them to Workers goroutines, each with its own Attacker
// (one hessian.Evaluator and one tape). A batch's result depends only on the
// batch (BatchNorm is in eval mode), so results are identical for any number
// of workers.
package attack
