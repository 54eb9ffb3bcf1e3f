// A LongNet layer written in MLIR, for `dilattn-run` in module mode and for
// the tests that build the same layer with the C++ and C graph APIs
// (test/Unit/API/GraphTest.cpp, test/Unit/CAPI/CAPITest.cpp):
//
//   h = x + MultiheadDilatedAttention(x)   (biases, sub-layer norm, padding)
//   y = h + W2 gelu(W1 h + b1) + b2         (feed-forward, GELU tanh form)
//
// B = 2, N = 64, E = 32 (4 heads of 16), F = 64; longnet mode over the
// patterns (16, 1), (32, 2), (64, 4). Run it with
//
//   dilattn-run examples/longnet-layer.mlir --entry=longnet_layer \
//     --inputs=x.npy,wq.npy,wk.npy,wv.npy,wo.npy,bq.npy,bk.npy,bv.npy,bo.npy,\
//              ln_w.npy,ln_b.npy,pad.npy,w1.npy,b1.npy,w2.npy,b2.npy \
//     --outputs=y.npy
#map_x = affine_map<(b, n, o, e) -> (b, n, e)>
#map_w = affine_map<(b, n, o, e) -> (o, e)>
#map_acc = affine_map<(b, n, o, e) -> (b, n, o)>
#id3 = affine_map<(b, n, o) -> (b, n, o)>
#col = affine_map<(b, n, o) -> (o)>
func.func @longnet_layer(
    %x: tensor<2x64x32xf32>,
    %wq: tensor<32x32xf32>, %wk: tensor<32x32xf32>, %wv: tensor<32x32xf32>,
    %wo: tensor<32x32xf32>, %bq: tensor<32xf32>, %bk: tensor<32xf32>,
    %bv: tensor<32xf32>, %bo: tensor<32xf32>,
    %ln_w: tensor<32xf32>, %ln_b: tensor<32xf32>, %pad: tensor<2x64xi1>,
    %w1: tensor<64x32xf32>, %b1: tensor<64xf32>,
    %w2: tensor<32x64xf32>, %b2: tensor<32xf32>) -> tensor<2x64x32xf32> {
  // Attention with its residual.
  %attn = dilattn.multihead_dilated_attention %x, %x, %x
      weights(%wq, %wk, %wv, %wo) biases(%bq, %bk, %bv, %bo)
      layer_norm(%ln_w, %ln_b) key_padding_mask(%pad) num_heads = 4
      segment_lengths = [16, 32, 64] dilation_rates = [1, 2, 4] mode = longnet
      : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>,
         tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>,
         tensor<32x32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>,
         tensor<32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<2x64xi1>)
      -> tensor<2x64x32xf32>
  %h = arith.addf %x, %attn : tensor<2x64x32xf32>

  // Feed-forward: up-projection with bias, GELU, down-projection with bias.
  %zero = arith.constant 0.0 : f32
  %up_init = tensor.empty() : tensor<2x64x64xf32>
  %up_acc = linalg.fill ins(%zero : f32) outs(%up_init : tensor<2x64x64xf32>)
      -> tensor<2x64x64xf32>
  %up = linalg.contract indexing_maps = [#map_x, #map_w, #map_acc]
      ins(%h, %w1 : tensor<2x64x32xf32>, tensor<64x32xf32>)
      outs(%up_acc : tensor<2x64x64xf32>) -> tensor<2x64x64xf32>
  %act = linalg.generic {indexing_maps = [#id3, #col, #id3],
                         iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%up, %b1 : tensor<2x64x64xf32>, tensor<64xf32>)
      outs(%up_init : tensor<2x64x64xf32>) {
  ^bb0(%a: f32, %bias: f32, %unused: f32):
    // gelu(z) = 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))), with
    // tanh(u) = 1 - 2 / (exp(2u) + 1).
    %z = arith.addf %a, %bias : f32
    %z2 = arith.mulf %z, %z : f32
    %z3 = arith.mulf %z, %z2 : f32
    %c = arith.constant 0.044715 : f32
    %cz3 = arith.mulf %c, %z3 : f32
    %inner = arith.addf %z, %cz3 : f32
    %k = arith.constant 1.5957691216057308 : f32
    %u2 = arith.mulf %k, %inner : f32
    %e = math.exp %u2 : f32
    %one = arith.constant 1.0 : f32
    %two = arith.constant 2.0 : f32
    %e1 = arith.addf %e, %one : f32
    %q = arith.divf %two, %e1 : f32
    %tanh = arith.subf %one, %q : f32
    %half = arith.constant 0.5 : f32
    %hz = arith.mulf %half, %z : f32
    %t1 = arith.addf %one, %tanh : f32
    %g = arith.mulf %hz, %t1 : f32
    linalg.yield %g : f32
  } -> tensor<2x64x64xf32>
  %down_init = tensor.empty() : tensor<2x64x32xf32>
  %down_acc = linalg.fill ins(%zero : f32)
      outs(%down_init : tensor<2x64x32xf32>) -> tensor<2x64x32xf32>
  %down = linalg.contract indexing_maps = [#map_x, #map_w, #map_acc]
      ins(%act, %w2 : tensor<2x64x64xf32>, tensor<32x64xf32>)
      outs(%down_acc : tensor<2x64x32xf32>) -> tensor<2x64x32xf32>
  %y = linalg.generic {indexing_maps = [#id3, #col, #id3, #id3],
                       iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%down, %b2, %h : tensor<2x64x32xf32>, tensor<32xf32>,
          tensor<2x64x32xf32>)
      outs(%down_init : tensor<2x64x32xf32>) {
  ^bb0(%d: f32, %bias: f32, %res: f32, %unused: f32):
    %s = arith.addf %d, %bias : f32
    %r = arith.addf %res, %s : f32
    linalg.yield %r : f32
  } -> tensor<2x64x32xf32>
  return %y : tensor<2x64x32xf32>
}
