//! Fixed-point encodings: signed integers of a given width with a power-of-two scale.
//!
//! A real `x` is stored as the integer `q = round(x * 2^scale_log2)`, rounded half to even, which must fit
//! in a signed `bits`-bit integer. Scores are computed on the integers exactly (the circuit checks the same
//! integer arithmetic), so the only rounding in the whole pipeline happens here, once, deterministically.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A fixed-point format: `bits`-wide signed integers scaled by `2^scale_log2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedFormat {
    /// Width of the signed integer, 2 to 32.
    pub bits: u32,
    /// The integer `q` stands for `q / 2^scale_log2`.
    pub scale_log2: i32,
}

impl FixedFormat {
    /// Smallest representable integer, `-2^(bits-1)`.
    pub fn min_int(&self) -> i64 {
        -(1i64 << (self.bits - 1))
    }

    /// Largest representable integer, `2^(bits-1) - 1`.
    pub fn max_int(&self) -> i64 {
        (1i64 << (self.bits - 1)) - 1
    }

    /// Encodes `x`, rounding half to even; an error when it is not finite or out of range.
    pub fn quantize(&self, x: f64) -> Result<i64> {
        if !x.is_finite() {
            return Err(Error::NotFinite { value: x });
        }
        let scaled = (x * 2f64.powi(self.scale_log2)).round_ties_even();
        if scaled < self.min_int() as f64 || scaled > self.max_int() as f64 {
            return Err(Error::FixedPointOverflow {
                value: x,
                bits: self.bits,
                scale_log2: self.scale_log2,
            });
        }
        Ok(scaled as i64)
    }

    /// The real number an integer stands for.
    pub fn dequantize(&self, q: i64) -> f64 {
        q as f64 / 2f64.powi(self.scale_log2)
    }

    /// Encodes a whole vector.
    pub fn quantize_all(&self, xs: &[f64]) -> Result<Vec<i64>> {
        xs.iter().map(|&x| self.quantize(x)).collect()
    }

    /// The largest scale at which every value of `xs` fits in `bits` bits: the per-vector scale used for
    /// query vectors. `None` for an empty or all-zero vector (any scale fits) or a non-finite value.
    pub fn best_scale(bits: u32, xs: &[f64]) -> Option<i32> {
        let max = xs
            .iter()
            .try_fold(0f64, |m, x| x.is_finite().then(|| m.max(x.abs())))?;
        if !max.is_normal() {
            // Zero, or so small that every scale up to the f64 range would be "best".
            return None;
        }
        // Largest s with round(max * 2^s) <= 2^(bits-1) - 1; start from the estimate and step down.
        let limit = ((1i64 << (bits - 1)) - 1) as f64;
        let mut s = (limit / max).log2().floor() as i32 + 1;
        while (max * 2f64.powi(s)).round_ties_even() > limit {
            s -= 1;
        }
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INT16: FixedFormat = FixedFormat {
        bits: 16,
        scale_log2: 8,
    };

    #[test]
    fn round_trip_within_half_a_step() {
        for x in [-3.7, -0.001, 0.0, 0.5, 1.25, 100.123] {
            let q = INT16.quantize(x).unwrap();
            assert!((INT16.dequantize(q) - x).abs() <= 0.5 / 256.0, "{x}");
        }
    }

    #[test]
    fn rounds_half_to_even() {
        // 0.5/256 and 1.5/256 are exact halves.
        assert_eq!(INT16.quantize(0.5 / 256.0).unwrap(), 0);
        assert_eq!(INT16.quantize(1.5 / 256.0).unwrap(), 2);
        assert_eq!(INT16.quantize(-1.5 / 256.0).unwrap(), -2);
    }

    #[test]
    fn range_is_enforced_at_both_ends() {
        assert_eq!(INT16.quantize(32767.0 / 256.0).unwrap(), 32767);
        assert!(INT16.quantize(32768.0 / 256.0).is_err());
        assert_eq!(INT16.quantize(-32768.0 / 256.0).unwrap(), -32768);
        assert!(INT16.quantize(-32769.0 / 256.0).is_err());
        assert!(INT16.quantize(f64::NAN).is_err());
        assert!(INT16.quantize(f64::INFINITY).is_err());
    }

    #[test]
    fn best_scale_is_the_largest_that_fits() {
        let xs = [0.3, -1.9, 0.01];
        let s = FixedFormat::best_scale(16, &xs).unwrap();
        let f = FixedFormat {
            bits: 16,
            scale_log2: s,
        };
        assert!(f.quantize_all(&xs).is_ok());
        let finer = FixedFormat {
            bits: 16,
            scale_log2: s + 1,
        };
        assert!(finer.quantize_all(&xs).is_err());
        assert_eq!(FixedFormat::best_scale(16, &[0.0, 0.0]), None);
        assert_eq!(FixedFormat::best_scale(16, &[f64::NAN]), None);
        assert_eq!(
            FixedFormat::best_scale(16, &[f64::MIN_POSITIVE / 4.0]),
            None
        );
    }
}
