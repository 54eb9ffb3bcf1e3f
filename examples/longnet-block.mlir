// A bundled example for dilattn-opt and the README's main job: the attention
// of one LongNet layer on a 4096-token sequence with a key padding mask, and
// a causal grouped call whose single pattern covers the sequence (it
// canonicalizes to plain attention).
func.func @longnet_attention(%q: tensor<1x4096x8x64xf32>,
                             %k: tensor<1x4096x8x64xf32>,
                             %v: tensor<1x4096x8x64xf32>,
                             %padding: tensor<1x4096xi1>)
    -> tensor<1x4096x8x64xf32> {
  %out = dilattn.dilated_attention %q, %k, %v key_padding_mask(%padding)
      segment_lengths = [512, 1024, 2048, 4096] dilation_rates = [1, 2, 4, 8]
      mode = longnet
      : (tensor<1x4096x8x64xf32>, tensor<1x4096x8x64xf32>,
         tensor<1x4096x8x64xf32>, tensor<1x4096xi1>) -> tensor<1x4096x8x64xf32>
  return %out : tensor<1x4096x8x64xf32>
}

func.func @dense_causal(%q: tensor<2x256x4x32xf32>) -> tensor<2x256x4x32xf32> {
  %none = arith.constant dense<false> : tensor<256x256xi1>
  %out = dilattn.dilated_attention %q, %q, %q attn_mask(%none)
      segment_lengths = [1024] dilation_rates = [1] causal
      : (tensor<2x256x4x32xf32>, tensor<2x256x4x32xf32>,
         tensor<2x256x4x32xf32>, tensor<256x256xi1>) -> tensor<2x256x4x32xf32>
  return %out : tensor<2x256x4x32xf32>
}
