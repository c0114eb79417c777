//! A network's variables as training sees them: set from named tensors, listed for the
//! optimiser, copied out for a checkpoint.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use candle_core::{Device, Tensor, Var};
use candle_nn::VarMap;

/// Whether `name` is a BatchNorm running statistic (moved by forward passes, not by gradients).
pub fn is_running_stat(name: &str) -> bool {
    name.ends_with("running_mean") || name.ends_with("running_var")
}

/// Trainable variables by name (BatchNorm running statistics excluded), sorted.
pub fn trainable(varmap: &VarMap) -> Vec<(String, Var)> {
    let data = varmap.data().lock().expect("varmap lock");
    let mut v: Vec<_> = data.iter().filter(|(n, _)| !is_running_stat(n)).map(|(n, v)| (n.clone(), v.clone())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Every variable's current value, by name (CPU copies).
pub fn values(varmap: &VarMap) -> candle_core::Result<HashMap<String, Tensor>> {
    let data = varmap.data().lock().expect("varmap lock");
    data.iter().map(|(n, v)| Ok((n.clone(), v.as_tensor().to_device(&Device::Cpu)?))).collect()
}

/// Every variable's shape, by name (what [`crate::network::init::random_init`] takes).
pub fn shapes(varmap: &VarMap) -> BTreeMap<String, Vec<usize>> {
    let data = varmap.data().lock().expect("varmap lock");
    data.iter().map(|(n, v)| (n.clone(), v.dims().to_vec())).collect()
}

/// Sets every variable from `values` (on `device`); `source` names where they come from in the
/// error when one is missing or has another shape.
pub fn assign(varmap: &VarMap, values: &HashMap<String, Tensor>, device: &Device, source: &str) -> anyhow::Result<()> {
    let data = varmap.data().lock().expect("varmap lock");
    for (name, var) in data.iter() {
        let t = values.get(name).with_context(|| format!("{source}: lacks `{name}`"))?;
        anyhow::ensure!(
            t.dims() == var.dims(),
            "{source}: `{name}` has shape {:?}, expected {:?}",
            t.dims(),
            var.dims()
        );
        var.set(&t.to_device(device)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;

    #[test]
    fn statistics_are_not_trainable_and_assign_checks_names_and_shapes() {
        let vm = VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        vb.get((2,), "b.weight").unwrap();
        vb.get((2,), "b.running_mean").unwrap();
        vb.get((1,), "a.bias").unwrap();
        let names: Vec<_> = trainable(&vm).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a.bias", "b.weight"]);
        let mut v: HashMap<_, _> =
            shapes(&vm).into_iter().map(|(n, s)| (n, Tensor::ones(s, DType::F32, &Device::Cpu).unwrap())).collect();
        assign(&vm, &v, &Device::Cpu, "x").unwrap();
        assert_eq!(values(&vm).unwrap()["b.weight"].to_vec1::<f32>().unwrap(), [1.0, 1.0]);
        v.insert("a.bias".into(), Tensor::ones(3, DType::F32, &Device::Cpu).unwrap());
        assert!(assign(&vm, &v, &Device::Cpu, "x").unwrap_err().to_string().contains("`a.bias` has shape [3]"));
        v.remove("a.bias");
        assert_eq!(assign(&vm, &v, &Device::Cpu, "x").unwrap_err().to_string(), "x: lacks `a.bias`");
    }
}
