using System.Collections.Generic;
using System.Linq;

namespace CloseWait.Platform
{
    /// <summary>
    /// The all-or-nothing write every keepalive store shares: write the values in order; when one
    /// fails, put back those already written (last first) and fail with an error that names the
    /// value that failed, why, and what was put back.
    /// </summary>
    internal static class KeepAliveTransaction
    {
        /// <summary>One value to write, raw (platform units, or the probe count), with the value it replaces.</summary>
        internal readonly struct Step
        {
            public Step(KeepAliveField field, long old, long value)
            {
                Field = field;
                Old = old;
                New = value;
            }

            public KeepAliveField Field { get; }

            public long Old { get; }

            public long New { get; }
        }

        /// <summary>The steps that change something: the values the change gives that differ from the current ones.</summary>
        internal static List<Step> Plan(KeepAliveRules rules, TcpKeepAliveSetting current, KeepAliveChange change)
        {
            var target = change.Over(current);
            return KeepAliveChange.Fields
                .Select(f => new Step(f, current.Raw(rules, f), rules.Raw(f, target.Time!.Value, target.Interval!.Value, target.Probes!.Value)))
                .Where(s => s.Old != s.New)
                .ToList();
        }

        /// <summary>
        /// Runs <paramref name="check"/> for every step (a store's way to find "not root" or "read-only"
        /// before anything is written), then <paramref name="write"/> for each; both report a failure
        /// as a CloseWaitException naming the value. Other exceptions are bugs and pass through.
        /// </summary>
        internal static void Apply(KeepAliveRules rules, IReadOnlyList<Step> steps, System.Action<KeepAliveField, long> write, System.Action<KeepAliveField, long>? check = null)
        {
            var done = new List<Step>();
            foreach (var step in steps)
            {
                try
                {
                    check?.Invoke(step.Field, step.New);
                }
                catch (CloseWaitException failure)
                {
                    throw PutBack(rules, failure, done, write);
                }
            }

            foreach (var step in steps)
            {
                try
                {
                    write(step.Field, step.New);
                }
                catch (CloseWaitException failure)
                {
                    throw PutBack(rules, failure, done, write);
                }

                done.Add(step);
            }
        }

        private static CloseWaitException PutBack(KeepAliveRules rules, CloseWaitException failure, List<Step> done, System.Action<KeepAliveField, long> write)
        {
            var restored = new List<string>();
            var stuck = new List<string>();
            for (int i = done.Count - 1; i >= 0; i--)
            {
                var d = done[i];
                try
                {
                    write(d.Field, d.Old);
                    restored.Add($"{d.Field} back to {rules.Describe(d.Field, d.Old)}");
                }
                catch (CloseWaitException e)
                {
                    stuck.Add($"{d.Field} stays at {rules.Describe(d.Field, d.New)} ({e.Message})");
                }
            }

            string outcome = done.Count == 0
                ? "Nothing was changed."
                : stuck.Count == 0
                    ? $"Put {string.Join(" and ", restored)}, so nothing was changed."
                    : $"Putting the earlier values back failed too: {string.Join("; ", stuck)}." + (restored.Count > 0 ? $" Put {string.Join(" and ", restored)}." : string.Empty);

            return new CloseWaitException(stuck.Count == 0 ? failure.ErrorId : ErrorIds.KeepAliveRollbackFailed, failure.Category,
                failure.Message + " " + outcome, failure.Target, failure)
            {
                NativeError = failure.NativeError,
            };
        }
    }
}
