package nvae

// Image returns image i's importance-weighted negative log-likelihood
// estimate −log p(x) and its NELBO averaged over the K samples (nats), the
// per-image quantities the official test() averages over a split. The
// trainer's validation and nvae-eval both use it.
func (r *IWResult) Image(i int) (nll, nelbo float64) {
	for j := 0; j < r.K; j++ {
		nelbo += r.Nelbo[i*r.K+j]
	}
	return -r.LogPx[i], nelbo / float64(r.K)
}
