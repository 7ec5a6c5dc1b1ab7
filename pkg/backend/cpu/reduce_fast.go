package cpu

// sum4 adds v in float64 with four independent accumulators (the loop is
// latency-bound with one).
func sum4[T Float](v []T) float64 {
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		a0 += float64(v[i])
		a1 += float64(v[i+1])
		a2 += float64(v[i+2])
		a3 += float64(v[i+3])
	}
	for ; i < len(v); i++ {
		a0 += float64(v[i])
	}
	return (a0 + a1) + (a2 + a3)
}

// sqdev4 is Σ (v−mu)² with four accumulators.
func sqdev4[T Float](v []T, mu float64) float64 {
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		d0, d1, d2, d3 := float64(v[i])-mu, float64(v[i+1])-mu, float64(v[i+2])-mu, float64(v[i+3])-mu
		a0 += d0 * d0
		a1 += d1 * d1
		a2 += d2 * d2
		a3 += d3 * d3
	}
	for ; i < len(v); i++ {
		d := float64(v[i]) - mu
		a0 += d * d
	}
	return (a0 + a1) + (a2 + a3)
}

// dot2sum4 returns Σ g and Σ g·(x−mu) with four accumulators each.
func dot2sum4[T Float](g, x []T, mu float64) (float64, float64) {
	x = x[:len(g)]
	var s0, s1, s2, s3, d0, d1, d2, d3 float64
	i := 0
	for ; i+4 <= len(g); i += 4 {
		g0, g1, g2, g3 := float64(g[i]), float64(g[i+1]), float64(g[i+2]), float64(g[i+3])
		s0 += g0
		s1 += g1
		s2 += g2
		s3 += g3
		d0 += g0 * (float64(x[i]) - mu)
		d1 += g1 * (float64(x[i+1]) - mu)
		d2 += g2 * (float64(x[i+2]) - mu)
		d3 += g3 * (float64(x[i+3]) - mu)
	}
	for ; i < len(g); i++ {
		s0 += float64(g[i])
		d0 += float64(g[i]) * (float64(x[i]) - mu)
	}
	return (s0 + s1) + (s2 + s3), (d0 + d1) + (d2 + d3)
}
