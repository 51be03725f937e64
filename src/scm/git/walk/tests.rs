use super::*;

/// A random history: commits with up to three parents and dates that jump back and
/// forth (clock skew is what libgit2's slop is for), some equal.
fn random_history(repo: &git2::Repository, count: usize, seed: &mut u64) -> Vec<git2::Oid> {
    let tree = repo
        .find_tree(repo.treebuilder(None).unwrap().write().unwrap())
        .unwrap();
    let mut commits: Vec<git2::Oid> = Vec::new();
    for i in 0..count {
        let parent_count = match next(seed) % 10 {
            0 => 0,
            1..=6 => 1,
            7 | 8 => 2,
            _ => 3,
        };
        let mut parents = Vec::new();
        for _ in 0..parent_count.min(i) {
            let back = 1 + (next(seed) % 8).min(i as u64 - 1) as usize;
            let back = match next(seed) % 5 {
                0 => 1 + (next(seed) as usize % i),
                _ => back,
            };
            parents.push(repo.find_commit(commits[i - back]).unwrap());
        }
        let time = 1_000_000 + 10 * i as i64 + (next(seed) % 1000) as i64 - 500;
        let time = match next(seed) % 7 {
            0 => 1_000_000,
            _ => time,
        };
        let sig = git2::Signature::new("A", "a@x", &git2::Time::new(time, 0)).unwrap();
        let parents: Vec<&git2::Commit> = parents.iter().collect();
        let message = format!("c{i}");
        commits.push(
            repo.commit(None, &sig, &sig, &message, &tree, &parents)
                .unwrap(),
        );
    }
    commits
}

fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn the_walk_is_libgit2s_commit_for_commit() {
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init_bare(dir.path()).unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15;
    let commits = random_history(&repo, 300, &mut seed);
    let objects = super::super::read::open_objects(repo.path()).unwrap();
    let gix = |oid: &git2::Oid| ObjectId::try_from(oid.as_bytes()).unwrap();
    for round in 0..400 {
        let pick = |seed: &mut u64, most: u64| -> Vec<git2::Oid> {
            (0..next(seed) % (most + 1))
                .map(|_| commits[next(seed) as usize % commits.len()])
                .collect()
        };
        let mut tips = pick(&mut seed, 4);
        tips.push(commits[commits.len() - 1 - next(&mut seed) as usize % 20]);
        let hidden = pick(&mut seed, 6);
        let mut walk = repo.revwalk().unwrap();
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
            .unwrap();
        tips.iter().for_each(|tip| walk.push(*tip).unwrap());
        hidden.iter().for_each(|hide| walk.hide(*hide).unwrap());
        let libgit2: Vec<ObjectId> = walk.map(|oid| gix(&oid.unwrap())).collect();
        let ours = topological(
            repo.path(),
            &objects,
            &tips.iter().map(gix).collect::<Vec<_>>(),
            &hidden.iter().map(gix).collect::<Vec<_>>(),
        )
        .unwrap();
        assert_eq!(
            ours.0, libgit2,
            "round {round}: tips {tips:?} hidden {hidden:?}"
        );
        for id in &ours.0 {
            let (bytes, known) = ours.1.get(id).expect("every listed commit is known");
            let commit = repo.find_commit(git2::Oid::from_bytes(id.as_bytes()).unwrap());
            let commit = commit.unwrap();
            assert_eq!(bytes, repo.odb().unwrap().read(commit.id()).unwrap().data());
            let parent = commit.parents().next();
            let parent = parent.map(|parent| (gix(&parent.id()), gix(&parent.tree_id())));
            assert_eq!(known.first_parent, parent);
        }
    }
}
