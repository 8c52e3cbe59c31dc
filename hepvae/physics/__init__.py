"""Four-momentum helpers and jet observables on awkward arrays with vector behaviours."""
