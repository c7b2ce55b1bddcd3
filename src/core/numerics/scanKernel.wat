;; The inner loop of the bit-width hints' weight scan (channelScan.ts): max|w| and Σ|w| per output
;; channel of float32 weights, four values per instruction. It is WebAssembly because the scan
;; reads every weight of the model (max|w| sets each channel's scale, so no sample can stand in for
;; it), and JavaScript has no vector instructions: this loop is about ten times faster than the
;; tightest JS loop on the same block, so a 500 MB model is scanned about as fast as it is read.
;;
;; Compiled by `node scripts/buildWasm.mjs` (wabt) into scanKernelBinary.ts; a unit test checks the
;; two agree. Max uses pmax (`a < b ? b : a`), so a NaN weight is skipped as JS's `a > m` does.
(module
  (memory (export "memory") 1)

  ;; Values at [p, p + 4n) are consecutive runs of one channel each: the first run has `first`
  ;; values (the rest of a channel begun before this block), then runs of `inner` values. Run k
  ;; belongs to channel (ch + k) mod channels, whose max is the f32 at accMax + 4·channel and sum
  ;; the f64 at accSum + 8·channel; both are updated (max with, add to) what they hold.
  (func (export "runs")
    (param $p i32) (param $n i32) (param $first i32) (param $ch i32) (param $inner i32)
    (param $channels i32) (param $accMax i32) (param $accSum i32)
    (local $len i32) (local $end i32) (local $at i32)
    (local $vmax v128) (local $vlo v128) (local $vhi v128) (local $a v128)
    (local $vmax2 v128) (local $vlo2 v128) (local $vhi2 v128) (local $b v128)
    (local $m f32) (local $x f32) (local $s f64)
    (local.set $len (local.get $first))
    (block $done
      (loop $run
        (br_if $done (i32.eqz (local.get $n)))
        (if (i32.gt_u (local.get $len) (local.get $n))
          (then (local.set $len (local.get $n))))
        (local.set $end (i32.add (local.get $p) (i32.shl (local.get $len) (i32.const 2))))
        (local.set $vmax (v128.const i32x4 0 0 0 0))
        (local.set $vlo (v128.const i32x4 0 0 0 0))
        (local.set $vhi (v128.const i32x4 0 0 0 0))
        (local.set $vmax2 (v128.const i32x4 0 0 0 0))
        (local.set $vlo2 (v128.const i32x4 0 0 0 0))
        (local.set $vhi2 (v128.const i32x4 0 0 0 0))
        ;; Eight values a turn, into two sets of accumulators: each f64 add waits for the one
        ;; before it in its set, so two independent sets keep the vector unit twice as busy.
        (block $v8done
          (loop $v8
            (br_if $v8done
              (i32.gt_u (i32.add (local.get $p) (i32.const 32)) (local.get $end)))
            (local.set $a (f32x4.abs (v128.load align=4 (local.get $p))))
            (local.set $b (f32x4.abs (v128.load offset=16 align=4 (local.get $p))))
            (local.set $vmax (f32x4.pmax (local.get $vmax) (local.get $a)))
            (local.set $vmax2 (f32x4.pmax (local.get $vmax2) (local.get $b)))
            (local.set $vlo
              (f64x2.add (local.get $vlo) (f64x2.promote_low_f32x4 (local.get $a))))
            (local.set $vhi
              (f64x2.add (local.get $vhi)
                (f64x2.promote_low_f32x4
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15
                    (local.get $a) (local.get $a)))))
            (local.set $vlo2
              (f64x2.add (local.get $vlo2) (f64x2.promote_low_f32x4 (local.get $b))))
            (local.set $vhi2
              (f64x2.add (local.get $vhi2)
                (f64x2.promote_low_f32x4
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15
                    (local.get $b) (local.get $b)))))
            (local.set $p (i32.add (local.get $p) (i32.const 32)))
            (br $v8)))
        ;; At most four values more, then the two sets into one.
        (if (i32.le_u (i32.add (local.get $p) (i32.const 16)) (local.get $end))
          (then
            (local.set $a (f32x4.abs (v128.load align=4 (local.get $p))))
            (local.set $vmax (f32x4.pmax (local.get $vmax) (local.get $a)))
            (local.set $vlo
              (f64x2.add (local.get $vlo) (f64x2.promote_low_f32x4 (local.get $a))))
            (local.set $vhi
              (f64x2.add (local.get $vhi)
                (f64x2.promote_low_f32x4
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15
                    (local.get $a) (local.get $a)))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))))
        (local.set $vmax (f32x4.pmax (local.get $vmax) (local.get $vmax2)))
        (local.set $vlo (f64x2.add (local.get $vlo) (local.get $vlo2)))
        (local.set $vhi (f64x2.add (local.get $vhi) (local.get $vhi2)))
        ;; The four lanes, then the values left over (fewer than four).
        (local.set $m (f32x4.extract_lane 0 (local.get $vmax)))
        (local.set $x (f32x4.extract_lane 1 (local.get $vmax)))
        (if (f32.lt (local.get $m) (local.get $x)) (then (local.set $m (local.get $x))))
        (local.set $x (f32x4.extract_lane 2 (local.get $vmax)))
        (if (f32.lt (local.get $m) (local.get $x)) (then (local.set $m (local.get $x))))
        (local.set $x (f32x4.extract_lane 3 (local.get $vmax)))
        (if (f32.lt (local.get $m) (local.get $x)) (then (local.set $m (local.get $x))))
        (local.set $s
          (f64.add
            (f64.add (f64x2.extract_lane 0 (local.get $vlo)) (f64x2.extract_lane 1 (local.get $vlo)))
            (f64.add (f64x2.extract_lane 0 (local.get $vhi)) (f64x2.extract_lane 1 (local.get $vhi)))))
        (block $tdone
          (loop $t
            (br_if $tdone (i32.ge_u (local.get $p) (local.get $end)))
            (local.set $x (f32.abs (f32.load align=4 (local.get $p))))
            (if (f32.lt (local.get $m) (local.get $x)) (then (local.set $m (local.get $x))))
            (local.set $s (f64.add (local.get $s) (f64.promote_f32 (local.get $x))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (br $t)))
        ;; Into the channel's accumulators.
        (local.set $at (i32.add (local.get $accMax) (i32.shl (local.get $ch) (i32.const 2))))
        (if (f32.lt (f32.load (local.get $at)) (local.get $m))
          (then (f32.store (local.get $at) (local.get $m))))
        (local.set $at (i32.add (local.get $accSum) (i32.shl (local.get $ch) (i32.const 3))))
        (f64.store (local.get $at) (f64.add (f64.load (local.get $at)) (local.get $s)))
        (local.set $n (i32.sub (local.get $n) (local.get $len)))
        (local.set $len (local.get $inner))
        (local.set $ch (i32.add (local.get $ch) (i32.const 1)))
        (if (i32.eq (local.get $ch) (local.get $channels))
          (then (local.set $ch (i32.const 0))))
        (br $run))))

  ;; Values at [p, p + 4n) continue a row-major matrix of `width` columns, the first at column
  ;; `col`: column j's max is the f32 at accMax + 4j and its sum the f64 at accSum + 8j, updated
  ;; as in `runs`. For channels that are not contiguous (a MatMul weight [K, N] quantized per
  ;; column): width = channels · inner, and the caller folds each channel's inner columns.
  (func (export "rows")
    (param $p i32) (param $n i32) (param $col i32) (param $width i32)
    (param $accMax i32) (param $accSum i32)
    (local $len i32) (local $end i32) (local $q i32) (local $r i32)
    (local $a v128) (local $x f32) (local $old f32)
    (block $done
      (loop $segment
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $len (i32.sub (local.get $width) (local.get $col)))
        (if (i32.gt_u (local.get $len) (local.get $n))
          (then (local.set $len (local.get $n))))
        (local.set $end (i32.add (local.get $p) (i32.shl (local.get $len) (i32.const 2))))
        (local.set $q (i32.add (local.get $accMax) (i32.shl (local.get $col) (i32.const 2))))
        (local.set $r (i32.add (local.get $accSum) (i32.shl (local.get $col) (i32.const 3))))
        (block $vdone
          (loop $v
            (br_if $vdone
              (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
            (local.set $a (f32x4.abs (v128.load align=4 (local.get $p))))
            (v128.store align=4 (local.get $q)
              (f32x4.pmax (v128.load align=4 (local.get $q)) (local.get $a)))
            (v128.store align=8 (local.get $r)
              (f64x2.add (v128.load align=8 (local.get $r))
                (f64x2.promote_low_f32x4 (local.get $a))))
            (v128.store offset=16 align=8 (local.get $r)
              (f64x2.add (v128.load offset=16 align=8 (local.get $r))
                (f64x2.promote_low_f32x4
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15
                    (local.get $a) (local.get $a)))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $q (i32.add (local.get $q) (i32.const 16)))
            (local.set $r (i32.add (local.get $r) (i32.const 32)))
            (br $v)))
        (block $tdone
          (loop $t
            (br_if $tdone (i32.ge_u (local.get $p) (local.get $end)))
            (local.set $x (f32.abs (f32.load align=4 (local.get $p))))
            (local.set $old (f32.load (local.get $q)))
            (if (f32.lt (local.get $old) (local.get $x))
              (then (f32.store (local.get $q) (local.get $x))))
            (f64.store (local.get $r)
              (f64.add (f64.load (local.get $r)) (f64.promote_f32 (local.get $x))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (local.set $q (i32.add (local.get $q) (i32.const 4)))
            (local.set $r (i32.add (local.get $r) (i32.const 8)))
            (br $t)))
        (local.set $n (i32.sub (local.get $n) (local.get $len)))
        (local.set $col (i32.add (local.get $col) (local.get $len)))
        (if (i32.eq (local.get $col) (local.get $width))
          (then (local.set $col (i32.const 0))))
        (br $segment)))))
