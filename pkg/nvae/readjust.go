package nvae

import (
	"github.com/nvaego/nvae/pkg/ag"
)

// ReadjustBN is the official set_bn(model, bn_eval_mode=False, num_samples,
// t, iter): with BN in training mode and no gradients it draws iters
// sampling batches of batchSize at temperature t, so the decoder's running
// statistics adapt to the prior; it leaves the model in eval mode. The
// official evaluate.py uses 36 samples and 500 iterations. progress, when
// not nil, is called after each batch.
func (m *Model) ReadjustBN(c *ag.Ctx, t float64, iters, batchSize int, noise Noise, progress func(done int)) {
	m.ReadjustBNTemps(c, m.uniformTemps(t), iters, batchSize, noise, progress)
}
