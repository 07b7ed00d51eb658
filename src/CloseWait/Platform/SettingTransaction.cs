using System;
using System.Collections.Generic;
using System.Linq;

namespace CloseWait.Platform
{
    /// <summary>One value to write (in the store's own form), with the value it replaces.</summary>
    internal class SettingStep<TKey, TValue>
    {
        public SettingStep(TKey field, TValue old, TValue value)
        {
            Field = field;
            Old = old;
            New = value;
        }

        public TKey Field { get; }

        public TValue Old { get; }

        public TValue New { get; }
    }

    /// <summary>
    /// The all-or-nothing write every settings store shares (keepalive, TIME_WAIT; Linux, Windows,
    /// macOS): check every value, then write them in order; when one fails, put back those already
    /// written (last first) and fail with an error that names the value that failed, why, and what
    /// was put back.
    /// </summary>
    internal static class SettingTransaction
    {
        /// <summary>
        /// Runs <paramref name="check"/> for every step (a store's way to find "not root" or "read-only"
        /// before anything is written), then <paramref name="write"/> for each; both report a failure
        /// as a CloseWaitException naming the value. Other exceptions are bugs and pass through.
        /// <paramref name="describe"/> words a value for the message; <paramref name="rollbackFailedId"/>
        /// is the error id when putting back fails too.
        /// </summary>
        internal static void Apply<TKey, TValue>(IReadOnlyList<SettingStep<TKey, TValue>> steps, Action<TKey, TValue> write, Action<TKey, TValue>? check,
            Func<TKey, TValue, string> describe, string rollbackFailedId)
        {
            var done = new List<SettingStep<TKey, TValue>>();
            foreach (var step in steps)
            {
                try
                {
                    check?.Invoke(step.Field, step.New);
                }
                catch (CloseWaitException failure)
                {
                    throw PutBack(failure, done, write, describe, rollbackFailedId);
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
                    throw PutBack(failure, done, write, describe, rollbackFailedId);
                }

                done.Add(step);
            }
        }

        private static CloseWaitException PutBack<TKey, TValue>(CloseWaitException failure, List<SettingStep<TKey, TValue>> done, Action<TKey, TValue> write,
            Func<TKey, TValue, string> describe, string rollbackFailedId)
        {
            var restored = new List<string>();
            var stuck = new List<string>();
            for (int i = done.Count - 1; i >= 0; i--)
            {
                var d = done[i];
                try
                {
                    write(d.Field, d.Old);
                    restored.Add($"{d.Field} back to {describe(d.Field, d.Old)}");
                }
                catch (CloseWaitException e)
                {
                    stuck.Add($"{d.Field} stays at {describe(d.Field, d.New)} ({e.Message})");
                }
            }

            string outcome = done.Count == 0
                ? "Nothing was changed."
                : stuck.Count == 0
                    ? $"Put {string.Join(" and ", restored)}, so nothing was changed."
                    : $"Putting the earlier values back failed too: {string.Join("; ", stuck)}." + (restored.Count > 0 ? $" Put {string.Join(" and ", restored)}." : string.Empty);

            return new CloseWaitException(stuck.Count == 0 ? failure.ErrorId : rollbackFailedId, failure.Category,
                failure.Message + " " + outcome, failure.Target, failure)
            {
                NativeError = failure.NativeError,
            };
        }
    }

    /// <summary>The keepalive's use of <see cref="SettingTransaction"/>: raw values (platform units, or the probe count).</summary>
    internal static class KeepAliveTransaction
    {
        internal sealed class Step : SettingStep<KeepAliveField, long>
        {
            public Step(KeepAliveField field, long old, long value)
                : base(field, old, value)
            {
            }
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
        /// The steps to write now: those planned from <paramref name="planned"/> (the values read,
        /// planned and confirmed), failing with nothing written when the values have moved since
        /// (compare-and-fail); without <paramref name="planned"/>, planned from <paramref name="now"/>.
        /// </summary>
        internal static List<Step> PlanChecked(KeepAliveRules rules, TcpKeepAliveSetting now, KeepAliveChange change, TcpKeepAliveSetting? planned)
        {
            if (planned != null)
            {
                var moved = KeepAliveChange.Fields.Where(f => now.Raw(rules, f) != planned.Raw(rules, f)).ToList();
                if (moved.Count > 0)
                {
                    throw new CloseWaitException(ErrorIds.KeepAliveChangedMeanwhile, System.Management.Automation.ErrorCategory.ResourceBusy,
                        $"{string.Join(" and ", moved.Select(f => $"{f} changed from {rules.Describe(f, planned.Raw(rules, f))} to {rules.Describe(f, now.Raw(rules, f))}"))} since it was read, so the confirmed plan no longer applies. Nothing was changed; run the command again.");
                }
            }

            return Plan(rules, now, change);
        }

        internal static void Apply(KeepAliveRules rules, IReadOnlyList<Step> steps, Action<KeepAliveField, long> write, Action<KeepAliveField, long>? check = null) =>
            SettingTransaction.Apply(steps, write, check, rules.Describe, ErrorIds.KeepAliveRollbackFailed);
    }

    /// <summary>The TIME_WAIT settings' compare-and-fail: the values a confirmed plan was made from must still be the running ones.</summary>
    internal static class TimeWaitTransaction
    {
        /// <summary>Fails with nothing written (TimeWaitChangedMeanwhile) when a value of <paramref name="fields"/> differs between <paramref name="planned"/> and <paramref name="now"/>.</summary>
        internal static void CheckUnmoved(IEnumerable<TimeWaitField> fields, TcpTimeWaitSetting? planned, TcpTimeWaitSetting now)
        {
            if (planned == null)
            {
                return;
            }

            var moved = fields.Where(f => ValueOf(planned, f) != ValueOf(now, f)).ToList();
            if (moved.Count > 0)
            {
                throw new CloseWaitException(ErrorIds.TimeWaitChangedMeanwhile, System.Management.Automation.ErrorCategory.ResourceBusy,
                    $"{string.Join(" and ", moved.Select(f => $"{f} changed from {ValueOf(planned, f)} to {ValueOf(now, f)}"))} since it was read, so the confirmed plan no longer applies. Nothing was changed; run the command again.");
            }
        }

        /// <summary>A setting's value of one field, as text to compare and show ("none" for no reserved ports).</summary>
        internal static string ValueOf(TcpTimeWaitSetting s, TimeWaitField field)
        {
            switch (field)
            {
                case TimeWaitField.PortRange:
                    return s.PortRange ?? "unknown";
                case TimeWaitField.ReservedPorts:
                    return string.IsNullOrEmpty(s.ReservedPorts) ? "none" : s.ReservedPorts!;
                case TimeWaitField.TimeWaitReuse:
                    return s.TimeWaitReuse?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown";
                case TimeWaitField.MaxTimeWaitBuckets:
                    return s.MaxTimeWaitBuckets?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown";
                case TimeWaitField.FinWait2Timeout:
                    return s.FinWait2Timeout?.ToString() ?? "unknown";
                case TimeWaitField.TimeWaitDuration:
                    return s.TimeWaitDuration?.ToString() ?? "unknown";
                default:
                    return s.MaximumSegmentLifetime?.ToString() ?? "unknown";
            }
        }
    }
}
