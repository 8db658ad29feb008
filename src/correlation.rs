//! Correlation matrices: validation and the Cholesky factor used to draw correlated normals.

use std::f64::consts::PI;

/// How the matrix in a scenario is to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorrelationMethod {
    /// Correlations of the latent normals of a Gaussian copula.
    Gaussian,
    /// Spearman rank correlations, converted to the latent normals' correlations.
    Rank,
}

/// Why a matrix was rejected, and which cell to look at.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixError {
    /// Row and column of the offending entry, when one entry is to blame.
    pub cell: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

/// A dense square matrix, row by row.
pub type Matrix = Vec<Vec<f64>>;

/// Tolerance for symmetry and for zero pivots of a semi-definite matrix.
const TOL: f64 = 1e-9;

/// Checks a correlation matrix (entries in [-1, 1], unit diagonal, symmetric, positive
/// semi-definite) and returns the latent correlation matrix and its lower Cholesky factor.
pub fn validate(
    matrix: &[Vec<f64>],
    method: CorrelationMethod,
) -> Result<(Matrix, Matrix), MatrixError> {
    let n = matrix.len();
    for (i, row) in matrix.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            if !(-1.0..=1.0).contains(&v) || !v.is_finite() {
                return Err(MatrixError {
                    cell: Some((i, j)),
                    message: format!("a correlation must be between -1 and 1, got {v}"),
                });
            }
            if i == j && (v - 1.0).abs() > TOL {
                return Err(MatrixError {
                    cell: Some((i, j)),
                    message: format!(
                        "the diagonal must be 1 (a quantity is fully correlated with itself), got {v}"
                    ),
                });
            }
            if (v - matrix[j][i]).abs() > TOL {
                return Err(MatrixError {
                    cell: Some((i, j)),
                    message: format!(
                        "the matrix is not symmetric: row {} column {} is {v} but row {} column {} is {}",
                        i + 1,
                        j + 1,
                        j + 1,
                        i + 1,
                        matrix[j][i]
                    ),
                });
            }
        }
    }
    let latent: Vec<Vec<f64>> = match method {
        CorrelationMethod::Gaussian => matrix.to_vec(),
        // Spearman's rho of a Gaussian copula is (6 / pi) asin(r / 2).
        CorrelationMethod::Rank => matrix
            .iter()
            .enumerate()
            .map(|(i, row)| {
                row.iter()
                    .enumerate()
                    .map(|(j, &v)| {
                        if i == j {
                            1.0
                        } else {
                            2.0 * (PI * v / 6.0).sin()
                        }
                    })
                    .collect()
            })
            .collect(),
    };
    let l = cholesky(&latent).ok_or_else(|| MatrixError {
        cell: None,
        message: format!(
            "the {n}x{n} matrix is not positive semi-definite: no set of quantities can have these correlations together (check that the pairwise values are consistent)"
        ),
    })?;
    Ok((latent, l))
}

/// Lower Cholesky factor of a positive semi-definite matrix (zero pivots allowed), or `None`.
pub fn cholesky(a: &[Vec<f64>]) -> Option<Matrix> {
    let n = a.len();
    let mut l = vec![vec![0.0; n]; n];
    for j in 0..n {
        let d = a[j][j] - l[j][..j].iter().map(|x| x * x).sum::<f64>();
        if d < -TOL {
            return None;
        }
        let d = d.max(0.0).sqrt();
        l[j][j] = d;
        for i in j + 1..n {
            let s = a[i][j]
                - l[i][..j]
                    .iter()
                    .zip(&l[j][..j])
                    .map(|(x, y)| x * y)
                    .sum::<f64>();
            if d > TOL {
                l[i][j] = s / d;
            } else if s.abs() > 1e-7 {
                // A zero pivot needs a zero column below it, else the matrix is indefinite.
                return None;
            }
        }
    }
    Some(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factor_reproduces_the_matrix() {
        let a = vec![
            vec![1.0, 0.5, 0.2],
            vec![0.5, 1.0, 0.3],
            vec![0.2, 0.3, 1.0],
        ];
        let (_, l) = validate(&a, CorrelationMethod::Gaussian).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| l[i][k] * l[j][k]).sum();
                assert!((v - a[i][j]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn accepts_singular_and_rejects_indefinite() {
        let singular = vec![vec![1.0, 1.0], vec![1.0, 1.0]];
        assert!(validate(&singular, CorrelationMethod::Gaussian).is_ok());
        let bad = vec![
            vec![1.0, 0.9, -0.9],
            vec![0.9, 1.0, 0.9],
            vec![-0.9, 0.9, 1.0],
        ];
        let e = validate(&bad, CorrelationMethod::Gaussian).unwrap_err();
        assert!(e.message.contains("positive semi-definite"));
        let asym = vec![vec![1.0, 0.2], vec![0.3, 1.0]];
        assert_eq!(
            validate(&asym, CorrelationMethod::Gaussian)
                .unwrap_err()
                .cell,
            Some((0, 1))
        );
    }
}
